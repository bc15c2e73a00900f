"Compare a `pip freeze` on stdin with a lock file: print each package whose version differs, is new, or is gone"
import re, sys

def pins(lines) -> dict:
    "{normalised name: version} of the `name==version` lines"
    return {re.sub(r'[-_.]+', '-', m[1]).lower(): m[2] for l in lines if (m := re.match(r'([A-Za-z0-9][\w.-]*)==([^\s;]+)', l))}

lock, now = pins(open(sys.argv[1])), pins(sys.stdin)
rows = [(n, lock.get(n, '-'), now.get(n, '-')) for n in sorted(lock.keys() | now.keys()) if lock.get(n) != now.get(n)]
for n, a, b in rows: print(f'  {n:32} {a:>14} -> {b}')
print(f'{len(rows)} of {len(lock)} locked packages differ' if rows else 'no drift: the newest releases are the locked ones')
