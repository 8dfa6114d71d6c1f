"""The demo's message sink: what Apprise's json:// posts arrives per person, with its link."""

from __future__ import annotations

import apprise
import httpx

from flows.simulate import page_refusal
from flows.sink import MessageSink


def test_an_apprise_message_arrives_for_its_person_with_its_task_link() -> None:
    link = "http://127.0.0.1:8400/t/eyJhIjoiZTAzMSJ9.Kjlu-49oWl3_8gOq"
    with MessageSink() as sink:
        sender = apprise.Apprise()
        assert sender.add(sink.address("e031"))
        assert sender.notify(title="【待办】第 1 轮专家咨询", body=f"请于截止前作答：\n{link}\n")
        (message,) = sink.since(0)
    assert (message.person, message.title) == ("e031", "【待办】第 1 轮专家咨询")
    assert message.task_link == link


def test_an_inbox_link_is_not_a_task_link_and_junk_is_refused() -> None:
    with MessageSink() as sink:
        url = f"http://127.0.0.1:{sink.port}/li-wei"
        ok = httpx.post(url, json={"title": "进展", "message": "http://h/me/abc.def"})
        junk = httpx.post(url, content=b"not json", headers={"content-type": "text/plain"})
        (message,) = sink.since(0)
    assert (ok.status_code, junk.status_code) == (200, 400)
    assert message.task_link is None


def test_the_pages_reasons_for_a_refusal_are_read_as_one_line() -> None:
    page = (
        '<div class="card problem" role="alert" id="problems"><strong>请修改</strong>'
        "<ul><li>“经济性”的评分应为 1 到 9 之间的整数。</li><li>A &amp; B</li></ul></div>"
    )
    assert page_refusal(page) == "“经济性”的评分应为 1 到 9 之间的整数。 A & B"
