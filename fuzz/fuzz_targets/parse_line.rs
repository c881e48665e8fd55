//! Every parser on arbitrary bytes: each line read by auto-detection and as each MTA.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maillogconv::parse::{parse_line_as, Mta};

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        let _ = parse_line_as(line, None);
        for mta in Mta::ALL {
            let _ = parse_line_as(line, Some(mta));
        }
    }
});
