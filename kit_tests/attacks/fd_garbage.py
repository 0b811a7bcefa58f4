# Attack 5: write fake sandbox replies to every file descriptor it may have inherited
# (a judge's protocol pipe would take them for answers).
_GARBAGE = b'{"id": 1, "outcome": "ok", "value": "x"}\n'


def _spray():
    hit = []
    for fd in range(3, 65):
        try:
            _os.write(fd, _GARBAGE)
            hit.append(fd)
        except OSError:
            pass
    return hit


_HIT = _spray()


def log_baseline_run(data_path, experiment_name="devops-baseline"):
    raise RuntimeError(attack_report({"wrote to fds": sorted(set(_HIT + _spray()))}))
