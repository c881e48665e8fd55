//! Decompression and chunking on arbitrary bytes: whatever the magic bytes claim, the decoders
//! and the line-aligned chunker end with data or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maillogconv::input::chunk::Chunker;
use maillogconv::input::decompress::decode;
use maillogconv::parse::parse_line;

fuzz_target!(|data: &[u8]| {
    let Ok(opened) = decode(Box::new(std::io::Cursor::new(data.to_vec())), "fuzz") else {
        return;
    };
    let mut chunks = Chunker::new(opened.reader, 4096);
    // A decompression bomb is bounded here, not by the decoder: stop after 16 MiB.
    let mut total = 0usize;
    while let Ok(Some(chunk)) = chunks.next_chunk() {
        total += chunk.bytes().len();
        for line in chunk.bytes().split(|&b| b == b'\n') {
            let _ = parse_line(line);
        }
        if total > 16 << 20 {
            break;
        }
    }
});
