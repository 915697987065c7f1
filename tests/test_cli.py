"""The `assistant eval` scoring on fakes, and the terminal chat on the real small model."""

import io
import json
import os
import subprocess
import sys

import pytest

from assistant.evaluation import contains_all, evaluate, load_questions
from assistant.errors import AssistantError

from .conftest import SMALL_MODEL


def test_contains_all_needs_one_string_of_every_group():
    assert contains_all("It rose 8% to 52.4 billion", [["8%", "eight"], ["52.4"]])
    assert not contains_all("It rose 8%", [["8%"], ["52.4"]])


def test_eval_scores_retrieval_answers_refusals_and_gold_citations(make_assistant, tmp_path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(json.dumps(q) for q in [
        {"id": "a", "question": "Where is Scott Singer a visiting scholar?", "answerable": True,
         "answer_all_of": [["Carnegie"]], "sources": ["003_5ecbd052469d47e5.txt"]},
        {"id": "b", "question": "Which GPUs were used to train QwQ-32B?", "answerable": False,
         "answer_all_of": [], "sources": []},
    ]) + "\n")

    def reply(messages):
        question = messages[-1]["content"]
        return "He is at the Carnegie Endowment [1]." if "Singer" in question else "The sources do not contain the answer."

    a = make_assistant(reply)
    out = io.StringIO()
    result = evaluate(a, load_questions(qfile), out=out)
    s = result["summary"]
    assert (s["retrieved"], s["right"], s["refused_unanswerable"], s["cited_gold"]) == (1, 2, 1, 1)
    assert out.getvalue().strip().splitlines()[-1].startswith("summary: answer in top-6 1/1")


def test_a_bad_question_file_names_the_line(tmp_path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text('{"question": "ok?"}\nnot json\n')
    with pytest.raises(AssistantError, match=r"q.jsonl:2"):
        load_questions(qfile)


@pytest.mark.slow
def test_terminal_chat_keeps_the_conversation(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"ASSISTANT_INDEX_DIR": str(tmp_path / "index"), "ASSISTANT_MODEL": str(SMALL_MODEL)})
    result = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "chat"],
        input="Where is Scott Singer a visiting scholar?\nWhat does he say about the Chinese ecosystem?\n/quit\n",
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Carnegie" in result.stdout
    assert result.stdout.count("003_5ecbd052469d47e5.txt") >= 2  # both answers cite article 003
