//! The differential check both parser targets run: the input parsed whole and parsed in
//! the pieces the fuzzer chooses (held and re-fed as the reactor does) must give the same
//! frames and the same error at the same place.

use natsd::proto::{ParseError, Parsed, Parser};

/// What parsing saw: each frame (as its `Debug` text and length), then the error, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    frames: Vec<(String, usize)>,
    error: Option<ParseError>,
}

/// Parses `input` fed in `pieces` (lengths; the rest comes last) with a fresh parser.
pub fn parse_in_pieces(make: impl Fn() -> Parser, input: &[u8], pieces: &[usize]) -> Seen {
    let mut parser = make();
    let mut seen = Seen {
        frames: Vec::new(),
        error: None,
    };
    let mut held: Vec<u8> = Vec::new();
    let mut cuts = pieces.iter().copied().chain(std::iter::once(input.len()));
    let mut fed = 0;
    while fed < input.len() {
        let next = (fed + cuts.next().unwrap_or(input.len()).max(1)).min(input.len());
        held.extend_from_slice(&input[fed..next]);
        fed = next;
        let mut pos = 0;
        while pos < held.len() {
            match parser.parse(&held[pos..]) {
                Ok(Parsed::Frame(frame)) => {
                    pos += frame.consumed;
                    seen.frames
                        .push((format!("{:?}", frame.op), frame.consumed));
                }
                Ok(Parsed::Incomplete { .. }) => break,
                Err(err) => {
                    seen.error = Some(err);
                    return seen;
                }
            }
        }
        held.drain(..pos);
    }
    seen
}
