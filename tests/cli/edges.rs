//! The rough edges a new admin meets (issue 19): every message names what the user gave, with
//! one prefix; a file that is no mail log is named; maillogconvert.pl's call takes files too.

use super::*;

/// Every message on stderr starts `maillogconv: error:` or `maillogconv: warning:`.
fn assert_prefixed(err: &str) {
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("maillogconv: error: ") || first.starts_with("maillogconv: warning: "),
        "{err}"
    );
}

#[test]
fn an_input_with_no_mail_line_is_named_in_a_warning() {
    let dir = tempdir();
    let passwd = dir.path().join("passwd");
    std::fs::write(
        &passwd,
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/false\n",
    )
    .expect("write");
    let log = fixture("postfix/rejects.log");
    let out = bin().arg(&passwd).arg(&log).output().expect("run");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_prefixed(&err);
    let name = passwd.display().to_string();
    assert!(
        err.contains(&format!(
            "{name}: none of its 2 lines is from a mail server"
        )),
        "{err}"
    );
    assert!(!err.contains("rejects.log: none"), "{err}");
}

#[test]
fn a_missing_output_directory_is_named_not_the_temporary_file() {
    let out = run(&[
        "-o",
        "/nonexistent/dir/out.csv",
        "fixtures/postfix/rejects.log",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_prefixed(&err);
    assert!(err.contains("/nonexistent/dir/out.csv"), "{err}");
    assert!(
        err.contains("/nonexistent/dir: the directory does not exist"),
        "{err}"
    );
    assert!(!err.contains(".maillogconv-"), "{err}");
    let out = run(&[
        "--unparsed",
        "/nonexistent/dir/u.txt",
        "fixtures/postfix/rejects.log",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("/nonexistent/dir: the directory does not exist") && !err.contains(".tmp"),
        "{err}"
    );
}

#[test]
fn usage_and_run_time_errors_have_one_prefix() {
    let out = run(&["--no-such-option"]);
    assert_eq!(out.status.code(), Some(2));
    assert_prefixed(&String::from_utf8_lossy(&out.stderr));
    let out = run(&["/no/such/log"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_prefixed(&err);
    assert!(err.contains("/no/such/log"), "{err}");
}

#[test]
fn the_standard_form_takes_a_year_and_files_and_says_what_is_wrong() {
    let log = rel_fixture("postfix/awstats-e2e.log");
    let direct = stdout(&["--year", "2026", &log]);
    let standard = stdout(&["standard", "2026", &log]);
    assert_eq!(standard, direct);
    let mut child = bin()
        .args(["standard", "2026"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let text = std::fs::read(fixture("postfix/awstats-e2e.log")).expect("read");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&text)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(String::from_utf8_lossy(&out.stdout), direct);
    let out = run(&["standard", "twenty"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_prefixed(&err);
    assert!(err.contains("`standard [YEAR] [INPUT]...`"), "{err}");
}

/// The man page and the completion scripts come from the same definition as `--help`: every
/// option `--help` lists is in each of them.
#[test]
fn man_page_and_completions_cover_every_option_of_help() {
    let help = stdout(&["--help"]);
    assert!(
        help.contains("maillogconv standard [YEAR] [INPUTS]..."),
        "{help}"
    );
    assert!(
        help.contains("Examples:") && help.contains("standard 2026 <"),
        "{help}"
    );
    let longs: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches([',', '.', ']']))
        .filter(|w| {
            w.chars()
                .skip(2)
                .all(|c| c.is_ascii_lowercase() || c == '-')
        })
        .collect();
    assert!(longs.len() > 15, "{longs:?}");
    let man = stdout(&["--generate", "man"]);
    assert!(
        man.starts_with(".ie") && man.contains(".TH maillogconv 1"),
        "{man}"
    );
    for kind in ["man", "bash", "zsh", "fish"] {
        let text = stdout(&["--generate", kind]);
        for l in &longs {
            let name = &l[2..];
            // roff escapes the dashes of an option: `\-\-partition\-by`.
            let found = if kind == "man" {
                text.contains(&name.replace('-', "\\-"))
            } else {
                text.contains(name)
            };
            assert!(found, "{kind} lacks {l}");
        }
    }
}

/// The command run under a pseudo-terminal (`script`, util-linux): what the terminal shows.
fn on_a_terminal(args: &str) -> String {
    let cmd = format!(
        "cd {} && {} {args}",
        root().display(),
        env!("CARGO_BIN_EXE_maillogconv")
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs the command under a pseudo-terminal");
    assert_ok(&out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn progress_shows_on_a_terminal_and_never_in_cron() {
    let dir = tempdir();
    let out = dir.path().join("out.awstats");
    let o = out.display();
    let shown = on_a_terminal(&format!(
        "--year 2026 -o {o} fixtures/corpus/gitpan-Mail-Log-Parse/log"
    ));
    assert!(
        shown.contains("900 lines") && shown.contains("records") && shown.contains("left"),
        "{shown:?}"
    );
    let quiet = on_a_terminal(&format!(
        "--no-progress --year 2026 -o {o} fixtures/corpus/gitpan-Mail-Log-Parse/log"
    ));
    assert!(!quiet.contains("lines"), "{quiet:?}");
    // Not a terminal (cron): nothing on stderr, unless asked.
    let res = run(&[
        "--year",
        "2026",
        "-o",
        &o.to_string(),
        "fixtures/corpus/gitpan-Mail-Log-Parse/log",
    ]);
    assert!(
        res.status.success() && res.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&res.stderr)
    );
    let res = run(&[
        "--progress",
        "--year",
        "2026",
        "-o",
        &o.to_string(),
        "fixtures/corpus/gitpan-Mail-Log-Parse/log",
    ]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("maillogconv: progress: ") && err.contains("900 lines"),
        "{err}"
    );
}
