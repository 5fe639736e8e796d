"""`delete` and `suppressions`: deleting people, in Intercom and in the store, and the ids
whose events are refused."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from intercom_destination.commands.formats import iso
from intercom_destination.deletion import open_deletions
from intercom_destination.settings import Settings
from intercom_destination.store import Deletion, Subject, open_store
from intercom_destination.store.suppression import id_hash

Echo = Callable[[str], None]


async def delete(
    settings: Settings,
    subjects: Sequence[Subject],
    *,
    suppress: bool,
    dry_run: bool,
    echo: Echo,
) -> Deletion | None:
    """Delete `subjects` (or, with `dry_run`, say what that would delete), reporting on
    `echo`; the request as it ended, None for a dry run."""
    async with (
        await open_store(settings.database_url) as store,
        open_deletions(settings, store) as deletions,
    ):
        if dry_run:
            for preview in await deletions.preview(subjects):
                subject = preview.subject
                linked = f", linked anonymousIds {', '.join(preview.linked)}" * bool(preview.linked)
                contacts = ", ".join(preview.contacts) or "none"
                events = _counted(preview.events, "stored event")
                echo(
                    f"{subject.kind} {subject.id}: {events}{linked}; Intercom contacts: {contacts}"
                )
            return None
        request = await deletions.request(subjects, suppress=suppress)
        echo(f"deletion {request.id}: {_counted(len(subjects), 'person', 'people')} to delete")
        return await deletions.run(
            request,
            lambda progress: echo(
                f"deletion {progress.id}: {progress.done} of {len(subjects)} done"
            ),
        )


async def resume(settings: Settings, *, echo: Echo) -> list[Deletion]:
    """Run the requests that did not end (their process stopped), reporting on `echo`; how
    each ended."""
    async with (
        await open_store(settings.database_url, create=False) as store,
        open_deletions(settings, store) as deletions,
    ):
        ended = []
        for request in await deletions.unfinished():
            echo(f"deletion {request.id}: {request.state}, {len(request.subjects)} to delete")
            ended.append(await deletions.run(request))
        return ended


def summary(deletion: Deletion) -> str:
    """One line on how a request ended."""
    counts = (
        f"{deletion.done} of {_counted(len(deletion.hashes), 'person', 'people')} deleted: "
        f"{_counted(deletion.events, 'stored event')} and "
        f"{_counted(deletion.contacts, 'Intercom contact')}"
    )
    if deletion.state == "failed":
        return (
            f"deletion {deletion.id} failed: {deletion.error}; {counts}. Run the deletion "
            "again once that is fixed: what was deleted stays deleted"
        )
    refused = "; their future events are refused" if deletion.suppress else ""
    return f"deletion {deletion.id} done: {counts}{refused}"


async def list_suppressions(settings: Settings, echo: Echo) -> int:
    """One line per suppressed id: its salted hash and since when; how many."""
    async with await open_store(settings.database_url, create=False) as store:
        suppressions = await store.suppressions()
    for suppression in suppressions:
        echo(f"{suppression.hash}  {iso(suppression.suppressed_at)}")
    return len(suppressions)


async def remove_suppression(settings: Settings, value: str) -> bool:
    """Stop refusing the events of `value` (a userId or anonymousId); False if it was not
    suppressed."""
    async with await open_store(settings.database_url, create=False) as store:
        salt = await store.salt()
        removed = [
            await store.unsuppress(id_hash(salt, "userId", value)),
            await store.unsuppress(id_hash(salt, "anonymousId", value)),
        ]
    return any(removed)


def _counted(count: int, one: str, many: str | None = None) -> str:
    """`count` and what it counts: "1 stored event", "2 stored events"."""
    return f"{count} {one if count == 1 else many or one + 's'}"


async def list_deletions(settings: Settings, echo: Echo) -> int:
    """One line per deletion request, newest first (its audit record once it ended); how many."""
    async with await open_store(settings.database_url, create=False) as store:
        deletions = await store.deletions(limit=1000)
    for deletion in deletions:
        ended = iso(deletion.finished_at) if deletion.finished_at is not None else "-"
        echo(
            f"{deletion.id}  {deletion.state}  requested {iso(deletion.requested_at)}  "
            f"ended {ended}  people {deletion.done}/{len(deletion.hashes)}  "
            f"events {deletion.events}  contacts {deletion.contacts}  "
            f"suppressed {'yes' if deletion.suppress else 'no'}  ids {','.join(deletion.hashes)}"
        )
    return len(deletions)
