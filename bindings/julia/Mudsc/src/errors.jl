# Errors: every fallible call returns a mudsc_status; a non-zero status
# becomes a MudscError carrying the thread's mudsc_error_message() message.

"""
    MudscError(status, name, message)

A libmudsc call failed.  `status` is the (negative) mudsc_status code,
`name` its symbolic name ("MUDSC_E_SHAPE") and `message` the library's
description naming the argument and the sizes.  Compare `status` with the
constants `Mudsc.E_INVALID`, `Mudsc.E_SHAPE`, ... to tell errors apart.
"""
struct MudscError <: Exception
    status::Int
    name::String
    message::String
end

Base.showerror(io::IO, e::MudscError) = print(io, "MudscError: ", e.name, ": ", e.message)

# The status codes of include/mudsc/common.h (values are part of the ABI).
const E_INVALID = -1
const E_SHAPE = -2
const E_NOMEM = -3
const E_PARSE = -4
const E_IO = -5
const E_STATE = -6
const E_NUMERIC = -7
const E_UNSUPPORTED = -8
const E_CANCELLED = -9
const E_NOT_FOUND = -10
const E_EXISTS = -11
const E_RANGE = -12
const E_MISMATCH = -13
const E_INTERNAL = -14

# The error of a failed call.  The message is read first: it is valid only
# until the next libmudsc call on this thread, and no task switch can happen
# between the failing ccall and this one.
function _error(status::Integer)
    message = unsafe_string(ccall((:mudsc_error_message, libmudsc), Ptr{UInt8}, ()))
    name = unsafe_string(ccall((:mudsc_status_name, libmudsc), Ptr{UInt8}, (Cint,), status))
    return MudscError(Int(status), name, message)
end

# Throw the MudscError of a non-zero status.
_check(status::Integer) = status == 0 ? nothing : throw(_error(status))

"""`Mudsc.version()`: the run-time version of the linked library."""
version() = VersionNumber(unsafe_string(ccall((:mudsc_version_string, libmudsc), Ptr{UInt8}, ())))

"""`Mudsc.blas_info()`: the BLAS library linked at build time."""
blas_info() = unsafe_string(ccall((:mudsc_blas_info, libmudsc), Ptr{UInt8}, ()))

"""`Mudsc.blas_threads()`: number of threads the linked BLAS uses."""
blas_threads() = Int(ccall((:mudsc_blas_get_threads, libmudsc), Cint, ()))

"""`Mudsc.set_threads(n)`: set the number of BLAS threads process-wide (n >= 1)."""
set_threads(n::Integer) = _check(ccall((:mudsc_blas_set_threads, libmudsc), Cint, (Cint,), n))
