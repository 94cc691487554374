//! The client protocol parser: never panics, and parsing in any pieces gives what parsing
//! the whole gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natsd::proto::Parser;

#[path = "pieces.rs"]
mod pieces;
#[path = "split_parse.rs"]
mod split_parse;

fuzz_target!(|data: &[u8]| {
    let (pieces, input) = pieces::pieces_and_input(data);
    let make = || {
        let mut parser = Parser::new(1024, 4096);
        parser.set_headers(true);
        parser
    };
    let whole = split_parse::parse_in_pieces(make, input, &[]);
    let split = split_parse::parse_in_pieces(make, input, &pieces);
    assert_eq!(whole, split);
});
