# Attack 2: copy a classmate's task1_baseline.py, a staged copy or the original:
# in the temp folders, the judge's TMPDIR, the class folder, the folders above this
# file and the working directory.
def _classmates_file():
    roots = [CTX["judge_tmp"], CTX["class_dir"], "/tmp", "/var/tmp", "/dev/shm"]
    roots += parents(__file__, 4) + parents(_os.getcwd() + "/x", 4)
    me = _os.path.realpath(__file__)
    readable = []
    for path in walk(list(dict.fromkeys(roots)), deadline_s=2.5):
        if _os.path.basename(path) != "task1_baseline.py" or _os.path.realpath(path) == me:
            continue
        try:
            with open(path, "rb") as handle:
                source = handle.read()
        except OSError:
            continue
        readable.append(path)
        function = exec_if_solution(path, source)
        if function is not None:
            return function, path, readable
    return None, None, readable


_FOUND, _WHERE, _READABLE = _classmates_file()
log_baseline_run = found_or_failing(_FOUND, "ran a classmate's file", _WHERE,
                                    {"found": None, "readable": _READABLE[:20]})
