//! Unattended runs (issue 17): outputs that cannot destroy an input, keep the modes readers
//! need, and datasets that never lose or duplicate a row.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

#[test]
fn an_output_that_is_one_of_the_inputs_is_refused() {
    let dir = tempdir();
    let log = dir.path().join("maillog");
    std::fs::copy(fixture("postfix/awstats-e2e.log"), &log).expect("copy");
    let before = std::fs::read(&log).expect("read");
    // Named as a file, found through its directory, and found through a glob.
    let glob = format!("{}/mail*", dir.path().display());
    for input in [
        log.to_str().expect("p"),
        dir.path().to_str().expect("p"),
        &glob,
    ] {
        let out = run(&["--year", "2026", "-o", log.to_str().expect("p"), input]);
        assert_eq!(out.status.code(), Some(2), "{input}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("the output is one of the inputs"), "{err}");
        assert_eq!(std::fs::read(&log).expect("read"), before, "{input}");
    }
    // A dataset directory that is an input directory.
    let out = run(&[
        "--year",
        "2026",
        "--partition-by",
        "date",
        "-o",
        dir.path().to_str().expect("p"),
        dir.path().to_str().expect("p"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&log).expect("read"), before);
}

#[test]
fn outputs_get_the_mode_the_umask_gives_and_an_existing_output_keeps_its_mode() {
    let dir = tempdir();
    let out = dir.path().join("mail.awstats");
    let convert = |umask: &str| {
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask}; exec \"$0\" --year 2026 -o \"$1\" \"$2\"",
            ))
            .arg(env!("CARGO_BIN_EXE_maillogconv"))
            .arg(&out)
            .arg(fixture("postfix/awstats-e2e.log"))
            .status()
            .expect("run");
        assert!(st.success());
    };
    convert("022");
    assert_eq!(mode(&out), 0o644);
    convert("077");
    assert_eq!(mode(&out), 0o644, "an existing output keeps its mode");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    convert("022");
    assert_eq!(mode(&out), 0o640);
    let fresh = dir.path().join("new.csv");
    let st = Command::new("sh")
        .arg("-c")
        .arg("umask 027; exec \"$0\" --year 2026 -o \"$1\" \"$2\"")
        .arg(env!("CARGO_BIN_EXE_maillogconv"))
        .arg(&fresh)
        .arg(fixture("postfix/awstats-e2e.log"))
        .status()
        .expect("run");
    assert!(st.success());
    assert_eq!(mode(&fresh), 0o640);
}
