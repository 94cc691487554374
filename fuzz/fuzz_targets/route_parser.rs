//! The route parser mode (RS+/RS-/RMSG/HMSG, no limits): never panics, and parsing in any
//! pieces gives what parsing the whole gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natsd::proto::Parser;

#[path = "pieces.rs"]
mod pieces;
#[path = "split_parse.rs"]
mod split_parse;

fuzz_target!(|data: &[u8]| {
    let (pieces, input) = pieces::pieces_and_input(data);
    let whole = split_parse::parse_in_pieces(Parser::new_route, input, &[]);
    let split = split_parse::parse_in_pieces(Parser::new_route, input, &pieces);
    assert_eq!(whole, split);
});
