# Attack 1: run the kit's own reference solution and look perfect. It looks where a
# student would: next to labkit, above its own file and working directory, along
# sys.path, and under /work.
def _kit_solution():
    tried, starts = [], []
    try:
        import labkit

        starts.append(_os.path.dirname(_os.path.dirname(_os.path.realpath(labkit.__file__))))
    except Exception as error:  # noqa: BLE001
        tried.append(f"labkit: {error!r}")
    starts += parents(__file__) + parents(_os.getcwd() + "/x")
    starts += [p for p in __import__("sys").path if p] + ["/work"]
    candidates = [_os.path.join(start, sub, "task1_baseline.py")
                  for start in dict.fromkeys(starts) for sub in ("solutions", ".", "exercises")]
    candidates += [p for p in walk(["/work", *starts[:1]], deadline_s=1.5, max_depth=5)
                   if p.endswith("/task1_baseline.py")]
    me = _os.path.realpath(__file__)
    for path in dict.fromkeys(candidates):
        if _os.path.realpath(path) == me:
            continue
        try:
            with open(path, "rb") as handle:
                source = handle.read()
        except OSError as error:
            if error.errno != 2:
                tried.append(f"{path}: {error.strerror}")
            continue
        tried.append(f"read {path}")
        function = exec_if_solution(path, source)
        if function is not None:
            return function, path, tried
    return None, None, tried


_FOUND, _WHERE, _TRIED = _kit_solution()
log_baseline_run = found_or_failing(_FOUND, "ran the kit's solution", _WHERE,
                                    {"found": None, "tried": _TRIED[:20]})
