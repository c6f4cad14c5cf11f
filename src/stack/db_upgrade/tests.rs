use super::*;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A PostgreSQL 13 cluster's shape, in `dir`.
fn cluster(dir: &Path, version: &str) {
    write(&dir.join("PG_VERSION"), &format!("{version}\n"));
    write(&dir.join("base/1/1259"), "catalog");
    write(&dir.join("base/16384/16385"), "user rows");
    write(&dir.join("global/pg_control"), "control");
    write(&dir.join("postgresql.conf"), "listen_addresses = '*'");
}

/// What pgautoupgrade leaves when `initdb` or `pg_upgrade` fails: the cluster in old/ (its
/// pg_control disabled when pg_upgrade got that far), a partial new/, the lock file.
fn failed_upgrade(pgdata: &Path, control_disabled: bool) {
    cluster(&pgdata.join("old"), "13");
    if control_disabled {
        fs::rename(
            pgdata.join("old/global/pg_control"),
            pgdata.join("old/global/pg_control.old"),
        )
        .unwrap();
    }
    write(&pgdata.join("new/PG_VERSION"), "17\n");
    write(&pgdata.join("new/base/1/1259"), "new catalog");
    write(&pgdata.join(LOCK_FILE), "");
}

fn assert_restored(pgdata: &Path) {
    assert_eq!(
        fs::read_to_string(pgdata.join("PG_VERSION")).unwrap(),
        "13\n"
    );
    assert_eq!(
        fs::read_to_string(pgdata.join("base/16384/16385")).unwrap(),
        "user rows"
    );
    assert_eq!(
        fs::read_to_string(pgdata.join("global/pg_control")).unwrap(),
        "control"
    );
    for gone in ["old", "new", LOCK_FILE, "global/pg_control.old"] {
        assert!(!pgdata.join(gone).exists(), "{gone} is still there");
    }
}

#[test]
fn the_target_is_the_tags_leading_number() {
    assert_eq!(
        target_major("pgautoupgrade/pgautoupgrade:17-bookworm"),
        Some(17)
    );
    assert_eq!(
        target_major("registry.example:5000/pgautoupgrade/pgautoupgrade:16-alpine"),
        Some(16)
    );
    assert_eq!(target_major("pgautoupgrade/pgautoupgrade:latest"), None);
    assert_eq!(target_major("pgautoupgrade/pgautoupgrade"), None);
    assert_eq!(target_major("localhost:5000/db"), None);
}

#[test]
fn no_cluster_or_the_targets_is_ready_an_older_one_pending() {
    let t = tempfile::tempdir().unwrap();
    let pgdata = t.path().join("pgdata");
    assert_eq!(inspect(&pgdata, 17).unwrap(), State::Ready);
    fs::create_dir(&pgdata).unwrap();
    assert_eq!(inspect(&pgdata, 17).unwrap(), State::Ready);
    cluster(&pgdata, "17");
    assert_eq!(inspect(&pgdata, 17).unwrap(), State::Ready);
    cluster(&pgdata, "13");
    match inspect(&pgdata, 17).unwrap() {
        State::Pending { from: 13, bytes } => assert!(bytes > 0),
        other => panic!("{other:?}"),
    }
    cluster(&pgdata, "9.6");
    assert!(matches!(
        inspect(&pgdata, 17).unwrap(),
        State::Pending { from: 9, .. }
    ));
}

#[test]
fn a_failed_upgrade_is_put_back_in_place() {
    for disabled in [false, true] {
        let t = tempfile::tempdir().unwrap();
        let pgdata = t.path().join("pgdata");
        failed_upgrade(&pgdata, disabled);
        assert_eq!(inspect(&pgdata, 17).unwrap(), State::Failed { from: 13 });
        restore(&pgdata, 17).unwrap();
        assert_restored(&pgdata);
        assert!(matches!(
            inspect(&pgdata, 17).unwrap(),
            State::Pending { from: 13, .. }
        ));
    }
}

#[test]
fn a_restore_or_a_move_cut_short_is_finished() {
    let t = tempfile::tempdir().unwrap();
    let pgdata = t.path().join("pgdata");
    failed_upgrade(&pgdata, true);
    // Some entries already moved up (by pgautoupgrade before it failed, or by a restore cut short).
    fs::rename(pgdata.join("old/base"), pgdata.join("base")).unwrap();
    assert_eq!(inspect(&pgdata, 17).unwrap(), State::Failed { from: 13 });
    restore(&pgdata, 17).unwrap();
    assert_restored(&pgdata);

    // Everything moved up but old/ and the lock file still there.
    let pgdata = t.path().join("pgdata2");
    cluster(&pgdata, "13");
    fs::create_dir(pgdata.join("old")).unwrap();
    write(&pgdata.join(LOCK_FILE), "");
    assert_eq!(inspect(&pgdata, 17).unwrap(), State::Failed { from: 13 });
    restore(&pgdata, 17).unwrap();
    assert_restored(&pgdata);
}

#[test]
fn the_upgraded_files_moving_up_is_left_alone() {
    let t = tempfile::tempdir().unwrap();
    let pgdata = t.path().join("pgdata");
    failed_upgrade(&pgdata, true);
    // pgautoupgrade's `cp -l -r new/* pgdata` had begun.
    cluster(&pgdata, "17");
    let before = names(&pgdata).unwrap();
    match inspect(&pgdata, 17).unwrap() {
        State::Unknown(what) => assert!(what.contains("both in old/"), "{what}"),
        other => panic!("{other:?}"),
    }
    assert!(restore(&pgdata, 17).is_err());
    assert_eq!(names(&pgdata).unwrap(), before);
    assert!(pgdata.join("old/PG_VERSION").exists());
}

#[test]
fn a_finished_upgrade_with_its_lock_left() {
    let t = tempfile::tempdir().unwrap();
    let pgdata = t.path().join("pgdata");
    cluster(&pgdata, "17");
    write(&pgdata.join(LOCK_FILE), "");
    assert_eq!(inspect(&pgdata, 17).unwrap(), State::FinishedWithLock);
    remove_lock(&pgdata.join(LOCK_FILE)).unwrap();
    assert_eq!(inspect(&pgdata, 17).unwrap(), State::Ready);
}

#[test]
fn links_are_never_followed() {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    write(&outside.join("precious"), "keep");
    let pgdata = t.path().join("pgdata");
    failed_upgrade(&pgdata, false);
    std::os::unix::fs::symlink(&outside, pgdata.join("new/escape")).unwrap();
    restore(&pgdata, 17).unwrap();
    assert_restored(&pgdata);
    assert_eq!(
        fs::read_to_string(outside.join("precious")).unwrap(),
        "keep"
    );

    // old/ itself a link: refused, nothing touched.
    let pgdata = t.path().join("linked");
    cluster(&outside.join("cluster"), "13");
    fs::create_dir(&pgdata).unwrap();
    std::os::unix::fs::symlink(outside.join("cluster"), pgdata.join("old")).unwrap();
    write(&pgdata.join(LOCK_FILE), "");
    assert!(inspect(&pgdata, 17).is_err());
    assert!(restore(&pgdata, 17).is_err());
    assert!(outside.join("cluster/PG_VERSION").exists());
    assert!(pgdata.join(LOCK_FILE).exists());
}

#[test]
fn too_little_space_is_refused_with_both_numbers() {
    let pgdata = Path::new("/srv/data/pgdata");
    let bytes = 400 * MIB;
    let need = required_bytes(bytes);
    assert_eq!(need, 356 * MIB);
    assert!(check_space(pgdata, 13, 17, bytes, need).is_ok());
    let e = check_space(pgdata, 13, 17, bytes, need - 1).unwrap_err();
    let text = e.to_string();
    for part in [
        "PostgreSQL 13 data in /srv/data/pgdata",
        "PostgreSQL 17",
        "about 356 MiB free",
        "355 MiB are free",
        "unchanged",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
}
