"""What the judge reads of the student's state is the student's to have got wrong: a
version registered from a run without the param the judge looks up (issue 18, row 13:
it was ``kit error: KeyError 'model_type'``, "not your code") is the student's fail."""

import shutil
from pathlib import Path

from grader.core.paths import SOLUTIONS_DIR

KIT = Path(__file__).resolve().parents[1]
REGISTER_THE_BEST = '''    best_run = client.search_runs(
        [experiment.experiment_id], order_by=[f"metrics.{metric} DESC"], max_results=1
    )[0]
    version = mlflow.register_model(f"runs:/{best_run.info.run_id}/model", model_name)
'''
REGISTER_A_RUN_OF_ITS_OWN = '''    own = client.create_run(experiment.experiment_id, run_name="mine")
    client.set_terminated(own.info.run_id)
    version = client.create_model_version(model_name, f"runs:/{own.info.run_id}/model",
                                          run_id=own.info.run_id)
'''


def test_a_version_from_a_run_without_model_type_is_the_students_fail(pytester, tmp_path):
    exercises = tmp_path / "exercises"
    shutil.copytree(SOLUTIONS_DIR, exercises)
    task4 = exercises / "task4_registry.py"
    source = task4.read_text()
    assert REGISTER_THE_BEST in source
    task4.write_text(source.replace(REGISTER_THE_BEST, REGISTER_A_RUN_OF_ITS_OWN))
    pytester.makeconftest('pytest_plugins = ["grader.judge.plugin"]')
    pytester.makepyfile(test_task4=(KIT / "tests" / "test_task4.py").read_text())
    result = pytester.runpytest_subprocess(f"--exercises={exercises}", "-p", "no:randomly",
                                           "-p", "no:cacheprovider", "-k", "tagged_and_described")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "kit error" not in output, output[-3000:]
    assert "has no param model_type or no metric r2" in output, output[-3000:]
