//! Built-in defaults (the design's table).

use std::path::Path;

use crate::settings::{Answers, DEFAULT_DATA_DIR, Key, Source};

pub fn answers(config_dir: &Path) -> Answers {
    use Key::*;
    let mut a = Answers::new();
    for (key, value) in [
        (UserDb, "bundled"),
        (UserDbName, "mathesar"),
        (DbUser, "mathesar"),
        (DbPort, "5432"),
        (ExistingDbPort, "5432"),
        (ExistingDbSslmode, "prefer"),
        (HttpPort, "80"),
        (HttpsPort, "443"),
        (Domain, ""),
        (AcmeCa, ""),
        (AcmeCaRoot, ""),
        (TlsCert, ""),
        (TlsKey, ""),
        (TrustedProxies, ""),
        (HttpBind, ""),
        (AdminUsername, "admin"),
        (AdminEmail, ""),
        (DataDir, DEFAULT_DATA_DIR),
        (InternalDbHost, ""),
        (InternalDbPort, "5432"),
        (InternalDbName, "mathesar_django"),
        (InternalDbSslmode, "prefer"),
        (DbCaFile, ""),
        (RefreshImages, "false"),
        (ImageRegistry, ""),
        (PurgeData, "false"),
        (Backup, "true"),
        (
            BackupRepository,
            crate::settings::backup::DEFAULT_REPOSITORY,
        ),
        (BackupSchedule, crate::settings::backup::DEFAULT_SCHEDULE),
        (BackupRetention, crate::settings::backup::DEFAULT_RETENTION),
        // Empty: sized from the host at configure time (`settings::sizing`).
        (Workers, ""),
        (Threads, ""),
        (RequestTimeout, ""),
    ] {
        a.set(key, value, Source::Default);
    }
    a.set(ConfigDir, config_dir.display().to_string(), Source::Default);
    a
}
