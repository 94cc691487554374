//! The route and leafnode parser modes (RS+/RS-/RMSG/HMSG, LS+/LS-/LMSG/HMSG, no
//! control-line limit): never panic, parsing in any pieces gives what parsing the whole
//! gives, and the arguments of every routed or leaf message read back with
//! `RoutedArgs`/`LeafArgs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natsd::proto::{LeafArgs, Op, Parsed, Parser, RoutedArgs};

#[path = "pieces.rs"]
mod pieces;
#[path = "split_parse.rs"]
mod split_parse;

/// A leaf parser as a leaf connection has it: PUB/HPUB keep the maximum payload.
fn leaf() -> Parser {
    let mut parser = Parser::new_leaf();
    parser.set_limits(1024, 4096);
    parser
}

fuzz_target!(|data: &[u8]| {
    let (pieces, input) = pieces::pieces_and_input(data);
    for make in [Parser::new_route as fn() -> Parser, leaf] {
        let whole = split_parse::parse_in_pieces(make, input, &[]);
        let split = split_parse::parse_in_pieces(make, input, &pieces);
        assert_eq!(whole, split);
        check_message_args(make(), input);
    }
});

/// Every message frame's arguments are read back by the helper the sessions use.
fn check_message_args(mut parser: Parser, input: &[u8]) {
    let mut pos = 0;
    while let Ok(Parsed::Frame(frame)) = parser.parse(&input[pos..]) {
        match frame.op {
            Op::RouteMsg { header_len, .. } => {
                assert!(RoutedArgs::parse(frame.args, header_len.is_some()).is_some());
            }
            Op::LeafMsg { header_len, .. } => {
                assert!(LeafArgs::parse(frame.args, header_len.is_some()).is_some());
            }
            _ => {}
        }
        pos += frame.consumed;
    }
}
