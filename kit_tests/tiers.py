"""The kit tests' tiers: which wing of ``grader/`` each file tests, which tests are slow,
and how they are spread over pytest-xdist workers. One table per question; the hooks
in ``kit_tests/conftest.py`` apply them and ``kit_tests/test_tiers.py`` keeps them true.

- **Wings** (markers ``core`` … ``cli``, registered in ``pytest.ini``): ``pytest -m judge
  kit_tests`` runs what tests the judge. The kata tests in ``tests/`` are ``kata``.
- **slow**: a test of ~15 s or more here: it grades a class, validates the kit, installs
  a release, runs a container shape or a whole kata suite. ``pytest --exercises solutions tests kit_tests -m "not slow"`` is
  the fast tier (README "Developing the kit").
- **Workers**: under ``-n N`` (pytest-xdist) the tests of a file with a module fixture
  run on one worker (the fixture grades once; ``UNITS`` splits off tests that do not
  read it); every other test goes where a worker is free; the kata tests are one unit
  (one model server, their shared calls). The heaviest files are scheduled first
  (``HEAVIEST_FIRST``) so that no long grading starts last.
"""

from __future__ import annotations

import re
from pathlib import Path

WINGS_ALL = ("core", "lab", "results", "sandbox", "judge", "student", "classroom", "reports",
             "platforms", "authoring", "cli")

# file -> the wings it tests (what ``-m WING`` selects)
WINGS: dict[str, tuple[str, ...]] = {
    "test_architecture.py": WINGS_ALL,  # the import contract of every wing
    "test_attacks.py": ("sandbox", "judge"),
    "test_classroom_pool.py": ("classroom",),
    "test_clusters.py": ("reports",),
    "test_container_floor.py": ("platforms", "sandbox"),
    "test_dask.py": ("classroom",),
    "test_dataset.py": ("lab",),
    "test_demo_class.py": ("classroom", "platforms", "student"),
    "test_exports.py": ("reports", "results"),
    "test_fair_verdicts.py": ("judge",),
    "test_feedback.py": ("reports", "platforms", "cli"),
    "test_grade.py": ("classroom", "sandbox"),
    "test_grade_robustness.py": ("classroom",),
    "test_gradebook.py": ("platforms",),
    "test_gradescope.py": ("platforms",),
    "test_hidden.py": ("judge", "authoring"),
    "test_hints.py": ("student",),
    "test_journal.py": ("results", "judge", "student", "classroom", "reports", "authoring", "cli"),
    "test_journal_class.py": ("results", "judge"),
    "test_i18n.py": ("core", "cli", "student"),
    "test_inputs.py": ("judge",),
    "test_isolation_report.py": ("sandbox",),
    "test_manifest.py": ("core",),
    "test_mlflow_internals.py": ("judge",),
    "test_mlflow_errors.py": ("judge", "student"),
    "test_model_server.py": ("judge",),
    "test_plugin.py": ("judge",),
    "test_regrade.py": ("classroom",),
    "test_release.py": ("authoring",),
    "test_report_browser.py": ("reports",),
    "test_results_codec.py": ("results",),
    "test_sandbox_paths.py": ("sandbox",),
    "test_sandbox_preload.py": ("sandbox", "judge"),
    "test_seeds.py": ("classroom", "judge"),
    "test_shared_calls.py": ("judge",),
    "test_snapshots.py": ("judge",),
    "test_similarity.py": ("classroom",),
    "test_store.py": ("judge",),
    "test_stubgen.py": ("authoring", "cli"),
    "test_student_state_verdicts.py": ("judge",),
    "test_submissions.py": ("classroom",),
    "test_tiers.py": ("core",),  # the tiers themselves
    "test_todos.py": ("lab",),
    "test_try_task.py": ("student",),
    "test_untrusted_tree.py": ("sandbox",),
    "test_validate.py": ("authoring",),
    "test_warm.py": ("judge", "student"),
    "test_watch.py": ("student",),
    "test_worker_memory.py": ("classroom",),
}

EVERY_TEST = "*"
# file -> what makes its tests slow: EVERY_TEST, or names of tests and of (module) fixtures
# that grade (a test using such a fixture is slow).
SLOW: dict[str, tuple[str, ...]] = {
    "test_attacks.py": (EVERY_TEST,),
    "test_container_floor.py": ("place",),
    "test_dask.py": (EVERY_TEST,),
    "test_demo_class.py": ("graded",),
    "test_fair_verdicts.py": (EVERY_TEST,),
    "test_grade.py": ("graded",),
    "test_grade_robustness.py": (EVERY_TEST,),
    "test_gradescope.py": ("test_run_autograder_grades_a_zipped_upload_with_the_seed_and_hidden_tests_in_768_mib",
                           "shared_tree"),  # Gradescope's defaults: 768 MiB, the time budget
    "test_hidden.py": ("test_a_kata_validate_job_includes_the_hidden_tests",
                       "test_a_student_tuned_to_the_public_inputs_passes_them_and_fails_the_hidden_test"),
    "test_i18n.py": ("test_the_warm_judge_speaks_each_requests_language",
                     "test_a_stub_fails_in_the_chosen_language_naming_the_todo_it_waits_for",
                     "test_kata_check_on_the_stubs_and_on_a_syntax_error_says_nothing_in_english"),
    "test_isolation_report.py": (EVERY_TEST,),
    "test_journal.py": ("test_a_red_green_session_is_journaled_without_text_code_paths_or_names",),
    "test_journal_class.py": ("built",),  # 6 real runs of task 1 (~15 CPU-s)
    "test_model_server.py": ("model_server",),  # the judge plugin's fixture: a real server
    "test_plugin.py": ("test_a_store_the_students_code_left_unreadable_is_its_error_not_a_kit_error",
                       "test_a_green_pytest_of_a_task_file_ends_with_what_is_next"),
    "test_release.py": ("installed",),
    "test_report_browser.py": ("test_a_big_class_with_failures_only_on_is_screenshot",),
    "test_sandbox_paths.py": (EVERY_TEST,),
    "test_shared_calls.py": ("test_tests_with_the_same_inputs_share_one_call_and_others_do_not",
                             "test_a_tasks_suite_on_the_reference_shares_its_calls"),
    "test_seeds.py": ("test_the_solutions_get_full_marks_and_the_same_verdicts_twice_under_one_seed",),
    "test_student_state_verdicts.py": (EVERY_TEST,),
    "test_try_task.py": ("test_run_4_without_a_logged_model_and_run_bonus_for_real",
                         "test_a_store_without_task_3_or_task_4_says_which_to_run"),
    "test_warm.py": ("test_a_rerun_is_judged_warm_with_a_cold_runs_verdicts_even_after_the_judge_died",
                     "test_a_socket_folder_other_users_can_enter_is_never_used"),
    "test_watch.py": ("test_kata_watch_goes_green_moves_on_and_stops_on_sigint",),
    "test_validate.py": ("test_kata_validate_reports_passing_solutions_failing_stubs_a_diagonal_matrix_and_caught_mistakes",),
}

def _files_with_module_fixtures() -> frozenset[str]:
    folder = Path(__file__).parent
    return frozenset(path.name for path in folder.glob("test_*.py")
                     if re.search(r'^@pytest\.fixture\(scope="(module|session)"', path.read_text(encoding="utf-8"),
                                  re.M))


# Module fixtures that cost nothing worth sharing (one_student writes one submission).
CHEAP_MODULE_FIXTURES = frozenset({"test_isolation_report.py"})
# Files with a fixture made once for the file (a grading, a release, a cluster): their
# tests are one unit of work. Every other test is a unit of its own.
GROUPED = _files_with_module_fixtures() - CHEAP_MODULE_FIXTURES

# Tests of a grouped file that share nothing costly with the file's grading: a unit of
# their own (by name), so that the file's long tail runs beside it.
UNITS: dict[str, dict[str, str]] = {
    "test_dask.py": {
        "test_a_submission_only_waiting_on_a_worker_that_dies_keeps_its_retry": "own cluster",
        "test_dask_workers_running_another_kit_version_stop_the_run_in_one_line": "another kit",
        "test_another_local_user_cannot_run_anything_on_local_workers": "local:2",
        "test_ctrl_c_on_local_workers_stops_the_cluster_and_everything_it_started": "local:2",
        "test_ctrl_c_on_a_dask_worker_mid_grading_removes_its_model_server_and_workspace_at_once": "own worker",
    },
}

# Files by their measured cost here (most first): scheduled first under xdist. The rest
# follow in collection order.
HEAVIEST_FIRST = ("test_dask.py", "test_attacks.py", "test_demo_class.py", "test_container_floor.py",
                  "test_grade.py", "test_seeds.py", "test_validate.py", "test_isolation_report.py",
                  "test_grade_robustness.py", "test_release.py", "test_gradescope.py",
                  "test_warm.py")

KATA_UNIT = "the kata tests"  # tests/: one worker, one model server, their shared calls


def wings_of(file_name: str) -> tuple[str, ...]:
    return WINGS.get(file_name, ())


def is_slow(file_name: str, test_name: str, fixture_names) -> bool:
    names = SLOW.get(file_name, ())
    return EVERY_TEST in names or test_name in names or any(name in names for name in fixture_names)


def unit_of(nodeid: str) -> str:
    """The xdist unit of work of a test, by its node id (tests of one unit run on one
    worker, in order)."""
    path, _, test = nodeid.partition("::")
    if not path.startswith("kit_tests/"):
        return KATA_UNIT
    file_name = path.rsplit("/", 1)[-1]
    if file_name not in GROUPED:
        return nodeid
    unit = UNITS.get(file_name, {}).get(test.split("[", 1)[0])
    return f"{path}::{unit}" if unit else path


def rank(file_name: str, in_kit_tests: bool) -> int:
    """Sort key: the heaviest kit test files, then the kata tests, then the rest."""
    if not in_kit_tests:
        return len(HEAVIEST_FIRST)
    try:
        return HEAVIEST_FIRST.index(file_name)
    except ValueError:
        return len(HEAVIEST_FIRST) + 1
