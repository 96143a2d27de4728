#!/usr/bin/env python3
"""The Julia binding (bindings/julia) agrees with the C headers, checked
mechanically because Julia is not installed to run it.

Usage: check_julia_bindings.py JULIA_DIR HEADER_DIR MAP

For every `ccall((:mudsc_x, libmudsc), Ret, (Args...,), args...)` in
JULIA_DIR/**/*.jl:
  - mudsc_x is declared MUDSC_API in HEADER_DIR/*.h and listed in MAP, in a
    stable header (experimental.h is not bound: it changes every release);
  - the library is the constant `libmudsc`;
  - the argument-type tuple has as many entries as the C parameters, and the
    call passes that many arguments;
  - each Julia type is compatible with its C parameter type, and Ret with
    the C return type (rules in compatible() below).
Every Julia struct named after a C struct (`struct mudsc_tensor`) has the C
fields' names, order and compatible types, and is immutable; every C struct a
ccall passes by pointer has such a mirror.  Every `@cfunction(f, Ret, (...))`
matches a function-pointer typedef of the headers.

Coverage rule: the exported symbols no ccall names are listed (information).
It is a failure only when a handle's lifecycle is missing: for each opaque
handle type of the headers its constructors (the functions whose first
parameter is `handle **`) and its destructor (`void f(handle *)`), plus
mudsc_error_message (error messages) and mudsc_free (owned results).

Exit status 1 with one line per problem, 0 otherwise.
"""
import pathlib
import re
import sys
from dataclasses import dataclass

from c_api import CType, parse_headers, parse_map, split_top

# ---- C types as Julia sees them ---------------------------------------------

# Julia types accepted for each C scalar type.
C_SCALARS = {
    "int8_t": {"Int8"}, "uint8_t": {"UInt8"},
    "int16_t": {"Int16"}, "uint16_t": {"UInt16"},
    "int32_t": {"Int32", "Cint"}, "uint32_t": {"UInt32", "Cuint"},
    "int64_t": {"Int64"}, "uint64_t": {"UInt64"},
    "int": {"Cint", "Int32"}, "unsigned": {"Cuint", "UInt32"},
    "size_t": {"Csize_t", "UInt"},
    "double": {"Cdouble", "Float64"}, "float": {"Cfloat", "Float32"},
    "char": {"Cchar", "UInt8", "Int8"},
}
ENUM_TYPES = {"Cint", "Int32"}


# ---- Julia types -----------------------------------------------------------

@dataclass(frozen=True)
class JType:
    head: str
    args: tuple = ()

    def __str__(self):
        return self.head + ("{" + ",".join(map(str, self.args)) + "}" if self.args else "")


def parse_jtype(text):
    """'Ptr{Ptr{Cvoid}}' -> JType('Ptr', (JType('Ptr', (JType('Cvoid'),)),))."""
    text = "".join(text.split())
    text = re.sub(r"^(Base|Core)\.", "", text)
    m = re.fullmatch(r"([\w.]+)(?:\{(.*)\})?", text)
    if not m:
        return JType(text)
    args = tuple(parse_jtype(a) for a in split_top(m.group(2))) if m.group(2) else ()
    return JType(m.group(1), args)


def compatible(c, j, ctx, api, mirrors):
    """None if Julia type j may stand for C type c, else the reason.
    ctx: 'arg' (a ccall argument: Ref allowed), 'ret', 'field', 'pointee'."""
    if c.array:
        if j.head != "NTuple" or len(j.args) != 2:
            return f"expected NTuple{{{c.array},...}}"
        if j.args[0].head != str(c.array):
            return f"array length {j.args[0]} != {c.array}"
        return compatible(CType(c.base, c.ptr), j.args[1], "field", api, mirrors)
    if c.ptr == 0:
        return compatible_value(c.base, j, ctx, api, mirrors)
    if c.base == "char" and c.ptr == 1 and j.head == "Cstring":
        return None
    if j.head == "Ref" and ctx != "arg":
        return "Ref is only for ccall arguments"
    if j.head not in ("Ptr", "Ref") or len(j.args) != 1:
        return "expected Ptr{...} or Ref{...}"
    pointee = CType(c.base, c.ptr - 1)
    if pointee == CType("void"):
        return None    # void *: any pointee
    return compatible(pointee, j.args[0], "pointee", api, mirrors)


def compatible_value(base, j, ctx, api, mirrors):
    if j.args and base not in api.fnptrs:
        return "expected a plain type"
    if base == "void":
        ok = {"Cvoid", "Nothing"} if ctx == "ret" else {"Cvoid"} if ctx == "pointee" else set()
        return None if j.head in ok else "expected Cvoid"
    if base in C_SCALARS:
        return None if j.head in C_SCALARS[base] else f"expected one of {sorted(C_SCALARS[base])}"
    if base in api.enums:
        return None if j.head in ENUM_TYPES else "an enum: expected Cint or Int32"
    if base in api.fnptrs:
        return None if j == JType("Ptr", (JType("Cvoid"),)) else "a function pointer: expected Ptr{Cvoid}"
    if base in api.opaque:
        return None if j.head == "Cvoid" and ctx == "pointee" else "an opaque handle: expected Cvoid behind a pointer"
    if base in api.structs:
        if ctx != "pointee":
            return "structs are only passed by pointer"
        if j.head != base:
            return f"expected the Julia mirror struct {base}"
        return None if base in mirrors else f"no Julia mirror of struct {base}"
    return f"unknown C type {base}"


# ---- Julia sources ---------------------------------------------------------

def blank_julia(src):
    """Comments and string/char literal contents replaced by spaces (newlines
    kept), so offsets and line numbers stay valid and brackets or commas in
    them do not count."""
    out = list(src)
    i, n = 0, len(src)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        if src.startswith("#=", i):
            depth, k = 1, i + 2
            while k < n and depth:
                if src.startswith("#=", k):
                    depth, k = depth + 1, k + 2
                elif src.startswith("=#", k):
                    depth, k = depth - 1, k + 2
                else:
                    k += 1
            blank(i, k)
            i = k
        elif src[i] == "#":
            k = src.find("\n", i)
            k = n if k < 0 else k
            blank(i, k)
            i = k
        elif src[i] == '"':
            quote = '"""' if src.startswith('"""', i) else '"'
            k = i + len(quote)
            while k < n and not src.startswith(quote, k):
                k += 2 if src[k] == "\\" else 1
            blank(i + len(quote), k)
            i = k + len(quote)
        elif src[i] == "'" and not re.match(r"[\w)\]}'.]", src[i - 1] if i else " "):
            m = re.match(r"'(\\.[^']*|[^'\\])'", src[i:])
            k = i + (len(m.group(0)) if m else 1)
            blank(i + 1, k - 1)
            i = k
        else:
            i += 1
    return "".join(out)


def call_args(text, open_paren, raw=None):
    """The top-level arguments of the call whose '(' is at open_paren in the
    blanked text, as they stand in `raw` (the source; default: text)."""
    raw = text if raw is None else raw
    depth = 0
    for k in range(open_paren, len(text)):
        if text[k] in "([{":
            depth += 1
        elif text[k] in ")]}":
            depth -= 1
            if depth == 0:
                args, start = [], open_paren + 1
                for part in split_top(text[start:k]):
                    args.append(raw[start:start + len(part)].strip())
                    start += len(part) + 1
                return [] if args == [""] else args
    return None


def type_tuple(text):
    """'(A, B{C},)' -> ['A', 'B{C}']; None if not a parenthesised tuple."""
    if not (text.startswith("(") and text.endswith(")")):
        return None
    items = [a.strip() for a in split_top(text[1:-1])]
    return [a for a in items if a]


@dataclass
class Place:
    path: str
    line: int

    def __str__(self):
        return f"{self.path}:{self.line}"


def julia_sources(julia_dir):
    """(path, blanked text, source) of every .jl file."""
    for path in sorted(pathlib.Path(julia_dir).rglob("*.jl")):
        src = path.read_text()
        yield str(path), blank_julia(src), src


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def julia_structs(sources):
    """name -> (Place, mutable, [(field, type text)]) of every struct definition."""
    found = {}
    for path, text, _ in sources:
        for m in re.finditer(r"^[ \t]*(mutable[ \t]+)?struct[ \t]+(\w+)[^\n]*\n", text, re.M):
            fields = []
            for line in text[m.end():].splitlines():
                line = line.strip()
                if line == "end":
                    break
                f = re.fullmatch(r"(\w+)\s*::\s*(.+)", line)
                if f:
                    fields.append((f.group(1), f.group(2)))
                elif line:
                    fields.append((line, None))
            found[m.group(2)] = (Place(path, line_of(text, m.start())), bool(m.group(1)), fields)
    return found


# ---- the checks ------------------------------------------------------------

def check_ccall(place, args, api, listed, mirrors, problems):
    """One ccall; returns the symbol it names (or None)."""
    if len(args) < 3:
        problems.append(f"{place}: ccall with {len(args)} arguments, need (:name, lib), Ret, (Types...)")
        return None
    target = re.fullmatch(r"\(\s*:(\w+)\s*,\s*(\w+)\s*\)", args[0])
    if not target:
        problems.append(f"{place}: ccall target {args[0]!r} is not (:symbol, libmudsc)")
        return None
    sym, lib = target.groups()
    if lib != "libmudsc":
        problems.append(f"{place}: {sym}: library {lib!r}, expected libmudsc")
    if sym not in api.functions:
        problems.append(f"{place}: {sym}: not declared MUDSC_API in the headers")
    if sym not in listed:
        problems.append(f"{place}: {sym}: not listed in the export map")
    if sym not in api.functions:
        return sym
    if sym not in api.stable():
        problems.append(f"{place}: {sym}: experimental (experimental.h); the binding covers "
                        f"the stable headers only")
    c_ret, c_params = api.functions[sym]
    types = type_tuple(args[2])
    if types is None:
        problems.append(f"{place}: {sym}: argument types {args[2]!r} are not a tuple")
        return sym
    passed = args[3:]
    if any(a.endswith("...") for a in passed):
        problems.append(f"{place}: {sym}: splatted arguments cannot be counted")
    if len(types) != len(c_params):
        problems.append(f"{place}: {sym}: {len(types)} argument types, the C function has "
                        f"{len(c_params)} parameters")
    if len(passed) != len(types):
        problems.append(f"{place}: {sym}: passes {len(passed)} arguments for {len(types)} types")
    why = compatible(c_ret, parse_jtype(args[1]), "ret", api, mirrors)
    if why:
        problems.append(f"{place}: {sym}: return type {args[1]} vs C {c_ret}: {why}")
    for k, (jt, ct) in enumerate(zip(types, c_params), 1):
        why = compatible(ct, parse_jtype(jt), "arg", api, mirrors)
        if why:
            problems.append(f"{place}: {sym}: argument {k} type {jt} vs C {ct}: {why}")
    return sym


def check_cfunction(place, args, api, mirrors, problems):
    types = type_tuple(args[2]) if len(args) == 3 else None
    if types is None:
        problems.append(f"{place}: @cfunction is not (f, Ret, (Types...))")
        return
    for name, (c_ret, c_params) in api.fnptrs.items():
        if len(c_params) == len(types) and \
                compatible(c_ret, parse_jtype(args[1]), "ret", api, mirrors) is None and \
                all(compatible(c, parse_jtype(j), "field", api, mirrors) is None
                    for c, j in zip(c_params, types)):
            return
    problems.append(f"{place}: @cfunction({args[0]}, {args[1]}, {args[2]}) matches no "
                    f"function-pointer typedef ({', '.join(sorted(api.fnptrs))})")


def check_mirrors(structs, api, problems):
    for name, (place, mutable, fields) in structs.items():
        if not name.startswith("mudsc_"):
            continue
        if name not in api.structs:
            problems.append(f"{place}: struct {name}: no such struct in the headers")
            continue
        if mutable:
            problems.append(f"{place}: struct {name}: a mirror must be immutable (isbits)")
        c_fields = api.structs[name]
        if len(fields) != len(c_fields):
            problems.append(f"{place}: struct {name}: {len(fields)} fields, C has {len(c_fields)}")
        for k, ((jname, jtype), (cname, ctype)) in enumerate(zip(fields, c_fields), 1):
            if jname != cname:
                problems.append(f"{place}: struct {name}: field {k} is {jname}, C has {cname}")
            if jtype is None:
                problems.append(f"{place}: struct {name}: field {k} {jname!r} has no ::Type")
                continue
            why = compatible(ctype, parse_jtype(jtype), "field", api, set(structs))
            if why:
                problems.append(f"{place}: struct {name}: field {cname} type {jtype} vs C {ctype}: {why}")


def required_symbols(api):
    """The lifecycle the coverage rule insists on (see the module docstring)."""
    need = {"mudsc_error_message", "mudsc_free"}
    for name, (ret, params) in api.functions.items():
        if params and params[0].base in api.opaque and params[0].ptr == 2:
            need.add(name)    # a constructor: handle **out first
        if ret == CType("void") and len(params) == 1 and params[0].base in api.opaque \
                and params[0].ptr == 1:
            need.add(name)    # a destructor
    return need


def check(julia_dir, header_dir, mapfile):
    """Returns (problems, notes): lines to print."""
    api = parse_headers(header_dir)
    listed = parse_map(mapfile)
    sources = list(julia_sources(julia_dir))
    problems, notes = [], []
    if not sources:
        problems.append(f"{julia_dir}: no .jl files")
    if not any(re.search(r"^const libmudsc\s*=", text, re.M) for _, text, _ in sources):
        problems.append(f"{julia_dir}: no `const libmudsc = ...` for the ccalls to name")
    structs = julia_structs(sources)
    mirrors = {n for n in structs if n in api.structs}
    check_mirrors(structs, api, problems)
    wrapped, n_calls = set(), 0
    for path, text, src in sources:
        for m in re.finditer(r"@ccall\b", text):
            problems.append(f"{Place(path, line_of(text, m.start()))}: @ccall is not checked: use ccall")
        for m in re.finditer(r"(?<![\w@.])ccall\s*\(", text):
            place = Place(path, line_of(text, m.start()))
            args = call_args(text, m.end() - 1, src)
            if args is None:
                problems.append(f"{place}: unbalanced ccall")
                continue
            n_calls += 1
            sym = check_ccall(place, args, api, listed, mirrors, problems)
            if sym:
                wrapped.add(sym)
        for m in re.finditer(r"@cfunction\s*\(", text):
            args = call_args(text, m.end() - 1, src)
            check_cfunction(Place(path, line_of(text, m.start())), args or [], api, mirrors,
                            problems)
    for sym in sorted(required_symbols(api) - wrapped):
        problems.append(f"{julia_dir}: {sym}: a handle's lifecycle, wrapped by no ccall")
    unwrapped = sorted(listed - wrapped)
    notes.append(f"{n_calls} ccalls naming {len(wrapped)} of {len(listed)} exported symbols; "
                 f"{len(mirrors)} mirrored structs")
    if unwrapped:
        notes.append(f"not wrapped (allowed): {', '.join(unwrapped)}")
    return problems, notes


def main(argv):
    if len(argv) != 4:
        print(__doc__.split("\n\n")[1])
        return 2
    problems, notes = check(*argv[1:4])
    for line in notes + problems:
        print(line)
    print(f"{len(problems)} problems" if problems else "the Julia binding agrees with the headers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
