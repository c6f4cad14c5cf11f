//! A database dump and the row count of each of its tables, taken in one snapshot: a psql
//! session in the database container opens a read-only REPEATABLE READ transaction and exports
//! its snapshot, `pg_dump --snapshot` dumps exactly that state while Mathesar keeps writing, and
//! the same session then counts every table. The drill later restores the dump and expects the
//! very same counts.

use std::collections::BTreeMap;

/// The line after which the script writes the counts on stderr.
const MARKER: &str = "MATHESARCTL-ROW-COUNTS";

/// Every ordinary table of the database (system schemas left out) with its exact row count, as
/// one JSON object `{"schema.table": count}`; names quoted as PostgreSQL would (`%I`).
pub(crate) const COUNT_QUERY: &str = "SELECT coalesce(json_object_agg(t, n ORDER BY t), '{}') FROM (\
SELECT format('%I.%I', ns.nspname, cl.relname) AS t, \
(xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM ONLY %I.%I', ns.nspname, cl.relname), false, true, '')))[1]::text::bigint AS n \
FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace \
WHERE cl.relkind = 'r' AND ns.nspname NOT IN ('pg_catalog', 'information_schema') \
AND ns.nspname NOT LIKE 'pg\\_%') s";

/// The script run in the database container: `sh -c SCRIPT sh USER DATABASE QUERY`. The dump goes
/// to stdout; psql's session is fed through a FIFO so that it stays open while pg_dump runs.
/// Its temporary directory is removed however the script ends.
pub(crate) const SCRIPT: &str = r#"set -eu
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkfifo "$d/in"
psql -X -q -A -t -v ON_ERROR_STOP=1 -U "$1" -d "$2" <"$d/in" >"$d/out" &
session=$!
exec 3>"$d/in"
printf 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n' >&3
n=0
until [ -s "$d/out" ]; do
	n=$((n + 1))
	if [ "$n" -gt 600 ] || ! kill -0 "$session" 2>/dev/null; then
		echo "psql did not export a snapshot" >&2
		exit 1
	fi
	sleep 0.1
done
snapshot=$(head -n 1 "$d/out")
pg_dump --format=custom --snapshot="$snapshot" -U "$1" -d "$2"
printf '%s;\nCOMMIT;\n' "$3" >&3
exec 3>&-
wait "$session"
echo MATHESARCTL-ROW-COUNTS >&2
tail -n +2 "$d/out" >&2
"#;

/// The command for `user` and `database`.
pub(crate) fn command<'a>(user: &'a str, database: &'a str) -> Vec<&'a str> {
    vec!["sh", "-c", SCRIPT, "sh", user, database, COUNT_QUERY]
}

/// The counts the script wrote after its marker on stderr, and stderr without them.
pub(crate) fn split_counts(stderr: &str) -> (Option<BTreeMap<String, u64>>, String) {
    match stderr.split_once(&format!("{MARKER}\n")) {
        Some((before, counts)) => (parse_counts(counts.trim()), before.to_string()),
        None => (None, stderr.to_string()),
    }
}

/// `{"schema.table": count}` as psql printed it.
pub(crate) fn parse_counts(json: &str) -> Option<BTreeMap<String, u64>> {
    serde_json::from_str(json.trim()).ok()
}

/// Tables whose count differs between what was recorded and what was found, described.
pub(crate) fn differences(
    recorded: &BTreeMap<String, u64>,
    found: &BTreeMap<String, u64>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (t, n) in recorded {
        match found.get(t) {
            Some(m) if m == n => {}
            Some(m) => out.push(format!("{t}: {m} rows, {n} recorded")),
            None => out.push(format!("{t}: missing ({n} rows recorded)")),
        }
    }
    for t in found.keys().filter(|t| !recorded.contains_key(*t)) {
        out.push(format!("{t}: not in the backup's record"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_marker_and_stderr_keeps_the_rest() {
        let (counts, rest) = split_counts(
            "pg_dump: warning: x\nMATHESARCTL-ROW-COUNTS\n{\"public.t\" : 3, \"msar.\\\"A b\\\"\" : 0}\n",
        );
        let counts = counts.unwrap();
        assert_eq!(counts["public.t"], 3);
        assert_eq!(counts["msar.\"A b\""], 0);
        assert_eq!(rest, "pg_dump: warning: x\n");
        assert_eq!(split_counts("failed\n").0, None);
    }

    #[test]
    fn differences_name_each_table() {
        let rec: BTreeMap<String, u64> = [("a".into(), 1), ("b".into(), 2)].into();
        let found: BTreeMap<String, u64> =
            [("a".into(), 1), ("b".into(), 1), ("c".into(), 0)].into();
        let d = differences(&rec, &found);
        assert_eq!(
            d,
            ["b: 1 rows, 2 recorded", "c: not in the backup's record"]
        );
        assert!(differences(&rec, &rec).is_empty());
    }

    #[test]
    fn the_script_is_posix_sh() {
        // Run by the database image's sh (busybox or dash): no bashism.
        for bashism in ["[[", "$'", "<(", "function ", "pipefail"] {
            assert!(!SCRIPT.contains(bashism), "{bashism}");
        }
        assert!(SCRIPT.contains(MARKER));
    }
}
