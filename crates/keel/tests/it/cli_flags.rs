//! Each subcommand takes and documents only its own flags, and `keel token` finds a running
//! `keel dev` from anywhere (issue #17 §1).

use crate::binary::{keel, start_dev};

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = keel(dir).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The long flags `--help` lists.
fn flags(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|line| {
            let flag = line.trim_start().trim_start_matches("-h, ");
            let flag = flag.strip_prefix("--")?;
            Some(flag.split([' ', '=']).next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn token_help_lists_only_its_own_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, help, _) = run(dir.path(), &["token", "--help"]);
    assert!(ok);
    let flags = flags(&help);
    for own in ["user", "email", "url", "data-dir"] {
        assert!(flags.iter().any(|f| f == own), "no --{own} in:\n{help}");
    }
    for server in [
        "listen",
        "max-body-bytes",
        "sync-max-queries",
        "database-url",
    ] {
        assert!(!flags.iter().any(|f| f == server), "--{server} in:\n{help}");
    }
}

#[test]
fn serve_refuses_the_emulators_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(dir.path(), &["serve", "--emulator-faults", "drop=0.5"]);
    assert!(!ok);
    assert!(
        stderr.contains("unexpected argument '--emulator-faults'"),
        "{stderr}"
    );
    let (ok, help, _) = run(dir.path(), &["serve", "--help"]);
    assert!(ok);
    assert!(flags(&help).iter().any(|f| f == "listen"), "{help}");
    assert!(!help.contains("--emulator"), "{help}");
}

/// In `keel check --help` every flag line carries its description, on the line or the next.
#[test]
fn check_help_describes_every_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, help, _) = run(dir.path(), &["check", "--help"]);
    assert!(ok);
    let lines: Vec<&str> = help.lines().collect();
    let mut seen = 0;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if !(trimmed.starts_with("--") || trimmed.starts_with("-h, --")) {
            continue;
        }
        seen += 1;
        // `--flag <VALUE>  Description` or `--flag <VALUE>` then the description indented.
        let after_value = trimmed.rsplit_once('>').map_or(trimmed, |(_, rest)| rest);
        let after_name = if trimmed.contains('<') {
            after_value
        } else {
            trimmed.split_once("  ").map_or("", |(_, rest)| rest)
        };
        let next = lines.get(i + 1).copied().unwrap_or("");
        let next_is_description = next.starts_with("          ")
            && !next.trim_start().starts_with('-')
            && !next.trim().is_empty();
        assert!(
            !after_name.trim().is_empty() || next_is_description,
            "no description for `{trimmed}` in:\n{help}"
        );
    }
    assert!(seen > 25, "only {seen} flags in:\n{help}");
}

#[test]
fn token_finds_a_running_keel_dev_by_its_data_folder_from_anywhere() {
    let data = tempfile::tempdir().unwrap();
    let _dev = start_dev(data.path(), "warn");
    let elsewhere = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();

    let mut by_flag = keel(elsewhere.path());
    by_flag.env_remove("KEEL_DATA_DIR").args([
        "token",
        "--email",
        "ada@example.com",
        "--create",
        "--data-dir",
        data_dir,
    ]);
    let mut by_variable = keel(elsewhere.path());
    by_variable
        .env("KEEL_DATA_DIR", data_dir)
        .args(["token", "--email", "ada@example.com"]);
    for mut command in [by_flag, by_variable] {
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(stdout.trim().split('.').count(), 3, "a JWT: {stdout}");
    }
}

#[test]
fn token_without_a_running_keel_dev_says_how_to_name_one() {
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(empty.path(), &["token", "--user", "user_x"]);
    assert!(!ok);
    for hint in ["no running `keel dev`", "keel dev", "--data-dir", "--url"] {
        assert!(stderr.contains(hint), "no {hint:?} in: {stderr}");
    }
}
