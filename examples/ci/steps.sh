#!/usr/bin/env bash
# authctl's CI steps: every authctl invocation of the recipes beside this file (GitHub Actions in workflows/, GitLab CI,
# Azure Pipelines, Atlantis) lives here (drift's JUnit report aside), so the
# workflows stay thin and this script can be run (and is tested) anywhere, against a tenant or the emulator.
#
#   steps.sh validate   manifests → GitHub annotations on stdout; exit 1 when invalid
#   steps.sh plan       manifests + Graph → $OUT/plan.md (the PR comment, with its marker), $OUT/plan.json (the
#                       saved plan, mode 0600), $OUT/manifests.sha256; output changes=true|false; exit 1 on error
#   steps.sh apply      applies $OUT/plan.json, verified by authctl against the manifests checked out now
#                       (`apply --plan FILE MANIFESTS`: refused whole, before any write, when any user's remaining
#                       actions differ from what they demand); $OUT/apply.txt (report), $OUT/journal.jsonl; exit 1
#                       when anything was refused, failed, was stale or would lock a user out
#   steps.sh drift      manifests + Graph → $OUT/drift.txt (numbers masked) and $OUT/drift.md (the issue body);
#                       output drift=true|false (true only for drift an apply can fix: blocked items and pending
#                       user actions are listed in drift.txt but are not drift);
#                       exit 1 on error (exit 0 on drift: the output says it, the workflow decides)
#
# Environment (all optional):
#   AUTHCTL            the authctl binary (default: authctl on PATH)
#   AUTHCTL_ARGS       extra flags for the Graph commands (plan, apply, drift), split on spaces, e.g.
#                      "--graph-url http://127.0.0.1:8080/v1.0" or "--emulate tenant.yaml --emulate-persist"
#   AUTHCTL_MANIFESTS  the manifests directory or file (default: manifests)
#   AUTHCTL_OUT        where products go (default: authctl-out)
#   GITHUB_OUTPUT, GITHUB_STEP_SUMMARY   set by GitHub Actions; written when present
# Credentials come from the environment as authctl reads them (AZURE_TENANT_ID, AZURE_CLIENT_ID and, in GitHub
# Actions with `id-token: write`, the OIDC token of the job: workload identity federation, no secret stored).
set -euo pipefail

AUTHCTL="${AUTHCTL:-authctl}"
MANIFESTS="${AUTHCTL_MANIFESTS:-manifests}"
OUT="${AUTHCTL_OUT:-authctl-out}"
# The comment marker: the PR workflow finds its previous comment by it and edits that one instead of adding another.
MARKER='<!-- authctl:plan -->'
read -r -a EXTRA <<<"${AUTHCTL_ARGS:-}"

output() { # output NAME VALUE: a step output for later steps (ignored outside GitHub Actions)
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi
}

summary() { # summary FILE: append FILE to the job's summary page
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" && -s "$1" ]]; then cat "$1" >>"$GITHUB_STEP_SUMMARY"; fi
}

# A digest of every manifest file's path and content, sorted, so apply can say early and plainly that another merge
# changed the manifests since the plan was reviewed. It is a convenience, not the safety check: the artifact comes from
# the pull request's job, so this file is as forgeable as plan.json. What protects the tenant is authctl's own
# verification of the plan against the manifests checked out on main (`apply --plan FILE MANIFESTS`).
manifests_digest() {
  find "$MANIFESTS" -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 | LC_ALL=C sort -z |
    xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1
}

cmd_validate() {
  # Annotations (`::error file=…,line=…::…`) go to stdout, where the runner turns them into PR annotations.
  "$AUTHCTL" validate "$MANIFESTS" --format github
}

cmd_plan() {
  mkdir -p "$OUT"
  local rc=0
  # --detailed-exitcode: 0 no changes, 2 changes, 1 error. The Markdown is the product on stdout; logs on stderr.
  "$AUTHCTL" plan "${EXTRA[@]}" "$MANIFESTS" --format markdown --out "$OUT/plan.json" --detailed-exitcode \
    >"$OUT/plan.body.md" || rc=$?
  {
    echo "$MARKER"
    if [[ $rc -eq 1 ]]; then
      echo "### authctl plan failed"
      echo
      echo "See the job log of run ${GITHUB_RUN_ID:-(local)}: the plan has errors or fails a guard (such as --max-deletes) and cannot be applied as it is."
      echo
    fi
    cat "$OUT/plan.body.md"
  } >"$OUT/plan.md"
  rm -f "$OUT/plan.body.md"
  summary "$OUT/plan.md"
  case $rc in
    0) output changes false ;;
    2) output changes true ;;
    *) return 1 ;;
  esac
  manifests_digest >"$OUT/manifests.sha256"
}

cmd_apply() {
  if [[ ! -f "$OUT/plan.json" ]]; then
    echo "error: no saved plan at $OUT/plan.json (download the pull request's plan artifact first)" >&2
    return 1
  fi
  if [[ ! -f "$OUT/manifests.sha256" ]]; then
    echo "error: no $OUT/manifests.sha256 beside the saved plan (download the whole plan artifact)" >&2
    return 1
  fi
  local planned now
  planned="$(cat "$OUT/manifests.sha256")"
  now="$(manifests_digest)"
  if [[ "$planned" != "$now" ]]; then
    echo "error: the saved plan was made from other manifests than the ones checked out now" \
      "(another change was merged after it was reviewed); re-plan (run the apply workflow by hand) instead" >&2
    return 1
  fi
  local rc=0
  # The manifests checked out here (main) are what the plan is verified against: authctl re-reads every user,
  # re-derives its plan from them, and refuses the whole plan before the first write on any difference. The guards
  # are this job's own (--max-deletes 10 and no --allow-lockout unless given here), not the ones in the file.
  "$AUTHCTL" apply "${EXTRA[@]}" --plan "$OUT/plan.json" "$MANIFESTS" --journal "$OUT/journal.jsonl" \
    >"$OUT/apply.txt" || rc=$?
  cat "$OUT/apply.txt"
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    { echo '### authctl apply'; echo; echo '```text'; cat "$OUT/apply.txt"; echo '```'; } >>"$GITHUB_STEP_SUMMARY"
  fi
  return $rc
}

cmd_drift() {
  mkdir -p "$OUT"
  local rc=0
  # --redact masks every number (with a fingerprint that still tells two numbers apart): an issue is read more
  # widely than the manifests. Exit 0 in sync (blocked and pending items alone are not drift), 2 drift an apply
  # fixes, 1 error.
  "$AUTHCTL" drift "${EXTRA[@]}" "$MANIFESTS" --format text --redact >"$OUT/drift.txt" || rc=$?
  case $rc in
    0) output drift false ;;
    2)
      output drift true
      {
        echo "### authctl drift: the tenant differs from the manifests"
        echo
        echo "The differences without a tag are what an apply of the manifests changes back: a manual run of the"
        echo "apply workflow (or the next merged pull request) brings them in line; a change made on purpose belongs"
        echo "in the manifests. Items tagged [blocked] or [pending user action] are not fixed by any apply: their"
        echo "reason is in \`authctl plan\` (for example a user outside the SMS sign-in policy, or a set-up only the"
        echo "user can finish)."
        echo
        echo '```text'
        cat "$OUT/drift.txt"
        echo '```'
      } >"$OUT/drift.md"
      summary "$OUT/drift.md"
      ;;
    *) return 1 ;;
  esac
}

case "${1:-}" in
  validate) cmd_validate ;;
  plan) cmd_plan ;;
  apply) cmd_apply ;;
  drift) cmd_drift ;;
  *)
    echo "usage: $0 validate|plan|apply|drift" >&2
    exit 64
    ;;
esac
