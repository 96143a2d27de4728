"""The public C API as data, for the checks that compare something with it
(tests/check_symbols.py, tests/check_julia_bindings.py, the Python
binding's declaration test): the export list of lib/mudsc.map, node by node
(the stable MUDSC_x.y nodes and the experimental MUDSC_EXPERIMENTAL_x.y
one), and, parsed from include/mudsc/*.h, every MUDSC_API function (with
the header declaring it), enum, opaque handle, struct and function-pointer
typedef.  Standard library only.
"""
import pathlib
import re
from dataclasses import dataclass, field

QUALIFIERS = {"const", "volatile", "struct", "enum", "restrict"}


@dataclass(frozen=True)
class CType:
    base: str          # "int64_t", "char", "void", "mudsc_model", ...
    ptr: int = 0       # levels of indirection
    array: int = 0     # fixed array length of a struct field, 0 if none

    def __str__(self):
        text = self.base + " " + "*" * self.ptr
        return text.strip() + (f"[{self.array}]" if self.array else "")


#: The header of the experimental API; every other public header is stable.
EXPERIMENTAL_HEADER = "experimental.h"
# Headers of companion libraries (not libmudsc's API: their own library,
# version script and checks; tests/mpi/check_mpi_symbols.py).
COMPANION_HEADERS = {"mudsc_mpi.h"}
#: Version-script node names: stable MUDSC_<x.y.z>, experimental MUDSC_EXPERIMENTAL_<x.y.z>.
STABLE_NODE = re.compile(r"MUDSC_\d+\.\d+\.\d+$")
EXPERIMENTAL_NODE = re.compile(r"MUDSC_EXPERIMENTAL_\d+\.\d+\.\d+$")


@dataclass
class CApi:
    functions: dict    # name -> (CType ret, [CType params])
    enums: set
    opaque: set
    structs: dict      # name -> [(field, CType)]
    fnptrs: dict       # name -> (CType ret, [CType params])
    headers: dict = field(default_factory=dict)  # function name -> [file names of the headers declaring it]

    def stable(self):
        """Functions declared in a stable header."""
        return {f for f, hs in self.headers.items() if any(h != EXPERIMENTAL_HEADER for h in hs)}

    def experimental(self):
        """Functions declared in experimental.h."""
        return {f for f, hs in self.headers.items() if EXPERIMENTAL_HEADER in hs}


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


def parse_headers(header_dir, companions=False):
    """libmudsc's API in header_dir (companions=True: also the companion
    libraries' headers, COMPANION_HEADERS)."""
    api = CApi({}, set(), set(), {}, {})
    sources = sorted(p for p in pathlib.Path(header_dir).glob("*.h")
                     if companions or p.name not in COMPANION_HEADERS)
    texts, defines = [], {}
    for path in sources:
        body, d = strip_c(path.read_text())
        texts.append((path.name, body))
        defines.update(d)
    for name, body in texts:
        for stmt in split_top(body, ";", "{", "}"):
            s = " ".join(stmt.split())
            parse_statement(s, defines, api)
            m = re.match(r".*\bMUDSC_API\s+.+?\b(mudsc_\w+)\s*\(", s)
            if m:
                api.headers.setdefault(m.group(1), []).append(name)
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


def parse_map_nodes(mapfile):
    """node name -> (set of global names, name of the node it inherits or None),
    in the file's order."""
    text = re.sub(r"/\*.*?\*/", "", pathlib.Path(mapfile).read_text(), flags=re.S)
    nodes = {}
    for m in re.finditer(r"([A-Za-z_][\w.]*)\s*\{(.*?)\}\s*([A-Za-z_][\w.]*)?\s*;", text, re.S):
        body = m.group(2)
        if "global:" in body:
            body = body.split("global:", 1)[1]
        body = body.split("local:", 1)[0]
        nodes[m.group(1)] = (set(re.findall(r"([A-Za-z_]\w*)\s*;", body)), m.group(3))
    return nodes


def parse_map(mapfile):
    """Every global name of the version script, whatever its node."""
    return set().union(*(names for names, _ in parse_map_nodes(mapfile).values()))
