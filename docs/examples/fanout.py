"""Fan the bundled example's campaigns out from a script, without the CLI.

    python docs/examples/fanout.py [WORKSPACE] [DATABASE_URL]

It syncs the workspace, shows who receives one post and why, previews a localized
variant, plans every campaign, and lists the findings to look at.
"""

from __future__ import annotations

import sys
from collections import Counter

import amplifier


def main(root: str = ".", database_url: str | None = None) -> int:
    try:
        ws = amplifier.open_workspace(root, database_url=database_url)
        print("sync:", ws.sync().summary())
    except amplifier.WorkspaceError as exc:
        for problem in exc.problems:  # every problem, each with file:line:column
            print(problem, file=sys.stderr)
        return 2

    post = "hari-pelayanan-publik-2027/puncak-peringatan"
    targets = ws.targets(post)
    print(
        f"{post}: {len(targets)} accounts, e.g. {targets[0].unit.code} because "
        f"{'; '.join(targets[0].reasons)}"
    )

    for preview in ws.preview("KANWIL-BALI", post, platform="instagram"):
        print("chain:", " → ".join(preview.chain))
        print(preview.text)

    summary = ws.plan(progress=lambda done, total: None)
    print("plan:", dict(summary.counts), dict(summary.by_status))
    rules = Counter(f["rule"] for f in summary.findings)
    for rule, count in rules.most_common():
        print(f"finding {rule}: {count} variants")

    pending = ws.variants(review=amplifier.ReviewState.NEEDS_REVIEW)
    print(f"{len(pending)} variants wait for review")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
