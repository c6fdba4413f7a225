"""Evaluation: datasets, ``evaluate()``, scorers and LLM judges, assessments and human feedback.

>>> import llmops_nb
>>> from llmops_nb.evals import scorers
>>> df = llmops_nb.evaluate("qa.jsonl", predict_fn=my_app,
...                         scorers=[scorers.exact_match(), scorers.correctness()])  # doctest: +SKIP
>>> df.attrs["summary"]["correctness"]["pass_rate"]  # doctest: +SKIP
0.85

Everything lands in the store's DuckDB file: dataset versions
(``eval_datasets``), runs (``eval_runs``), per-row results (``eval_results``),
and every score and piece of human feedback as an assessment of the evaluated
trace (``assessments``, source HUMAN, LLM_JUDGE or CODE). Conversations — scripted
turns or a :class:`SimulatedUser` — go through the same ``evaluate()`` (``_conversation``).
"""

from . import scorers
from ._compare import compare_runs
from ._datasets import Dataset, datasets
from ._evaluate import EvaluationInterrupted, aevaluate, evaluate
from ._feedback import assessments, feedback, log_feedback
from ._judge import Judge, make_judge
from ._results import eval_results, eval_runs
from ._scorer import Score, Scorer, scorer
from ._simulated_user import SimulatedUser

__all__ = [
    "Dataset",
    "EvaluationInterrupted",
    "Judge",
    "Score",
    "Scorer",
    "SimulatedUser",
    "aevaluate",
    "assessments",
    "compare_runs",
    "datasets",
    "eval_results",
    "eval_runs",
    "evaluate",
    "feedback",
    "log_feedback",
    "make_judge",
    "scorer",
    "scorers",
]
