"""The public C API as data, for the checks that compare something with it
(tests/check_symbols.py, tests/check_julia_bindings.py, the Python
binding's declaration test): the export list of lib/mudsc.map and, parsed
from include/mudsc/*.h, every MUDSC_API function, enum, opaque handle,
struct and function-pointer typedef.  Standard library only.
"""
import pathlib
import re
from dataclasses import dataclass

QUALIFIERS = {"const", "volatile", "struct", "enum", "restrict"}


@dataclass(frozen=True)
class CType:
    base: str          # "int64_t", "char", "void", "mudsc_model", ...
    ptr: int = 0       # levels of indirection
    array: int = 0     # fixed array length of a struct field, 0 if none

    def __str__(self):
        text = self.base + " " + "*" * self.ptr
        return text.strip() + (f"[{self.array}]" if self.array else "")


@dataclass
class CApi:
    functions: dict    # name -> (CType ret, [CType params])
    enums: set
    opaque: set
    structs: dict      # name -> [(field, CType)]
    fnptrs: dict       # name -> (CType ret, [CType params])


def strip_c(text):
    """Comments and preprocessor lines removed; #define NAME <int> collected."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\\\n", " ", text)
    defines = {}
    kept = []
    for line in text.splitlines():
        m = re.match(r"\s*#\s*define\s+(\w+)\s+(\d+)\s*$", line)
        if m:
            defines[m.group(1)] = int(m.group(2))
        if not line.lstrip().startswith("#"):
            kept.append(line)
    body = "\n".join(kept)
    body = re.sub(r"\bMUDSC_(BEGIN|END)_DECLS\b", " ", body)
    return body, defines


def split_top(text, sep=",", opening="([{", closing=")]}"):
    """Split at `sep` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in opening:
            depth += 1
        elif ch in closing:
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_c_decl(text, defines, named=True):
    """'const mudsc_model *const *models' -> ('models', CType('mudsc_model', 2))."""
    tokens = re.findall(r"[A-Za-z_]\w*|\*|\[[^\]]*\]", text)
    array = 0
    if tokens and tokens[-1].startswith("["):
        size = tokens.pop()[1:-1].strip()
        array = int(size) if size.isdigit() else defines.get(size, -1)
    name = None
    if named:
        name = tokens.pop() if tokens and tokens[-1] not in ("*",) else None
    ptr = tokens.count("*")
    words = [t for t in tokens if t != "*" and t not in QUALIFIERS]
    base = " ".join(words)
    base = {"unsigned int": "unsigned", "signed int": "int", "long long": "int64_t"}.get(base, base)
    return name, CType(base, ptr, array)


def parse_params(text, defines):
    text = text.strip()
    if text in ("", "void"):
        return []
    return [parse_c_decl(p, defines)[1] for p in split_top(text)]


def parse_headers(header_dir):
    api = CApi({}, set(), set(), {}, {})
    sources = sorted(pathlib.Path(header_dir).glob("*.h"))
    texts, defines = [], {}
    for path in sources:
        body, d = strip_c(path.read_text())
        texts.append(body)
        defines.update(d)
    for body in texts:
        for stmt in split_top(body, ";", "{", "}"):
            parse_statement(" ".join(stmt.split()), defines, api)
    return api


def add_struct(m, defines, api):
    fields = [f for f in m.group(1).split(";") if f.strip()]
    api.structs[m.group(2)] = [parse_c_decl(f, defines) for f in fields]


def add_signature(table):
    """A handler storing (return type, parameter types) in api.<table>."""
    def handler(m, defines, api):
        getattr(api, table)[m.group(2)] = (parse_c_decl(m.group(1), defines, named=False)[1],
                                           parse_params(m.group(3), defines))
    return handler


# The statements of a header that matter, and what each adds to the CApi.
STATEMENTS = [
    (r"typedef enum\b.*\}\s*(\w+)$", lambda m, d, api: api.enums.add(m.group(1))),
    (r"typedef struct\s+\w*\s*\{(.*)\}\s*(\w+)$", add_struct),
    (r"typedef struct\s+\w+\s+(\w+)$", lambda m, d, api: api.opaque.add(m.group(1))),
    (r"typedef (.+?)\(\s*\*\s*(\w+)\s*\)\s*\((.*)\)$", add_signature("fnptrs")),
    (r".*\bMUDSC_API\s+(.+?)\b(mudsc_\w+)\s*\((.*)\)$", add_signature("functions")),
]


def parse_statement(s, defines, api):
    for pattern, handler in STATEMENTS:
        m = re.match(pattern, s)
        if m:
            handler(m, defines, api)
            return


def parse_map(mapfile):
    text = re.sub(r"/\*.*?\*/", "", pathlib.Path(mapfile).read_text(), flags=re.S)
    part = text.split("global:", 1)[1].split("local:", 1)[0]
    return set(re.findall(r"([A-Za-z_]\w*)\s*;", part))
