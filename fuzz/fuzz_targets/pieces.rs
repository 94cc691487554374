//! How every target reads the fuzzer's bytes: piece lengths first, then the input.

/// Splits the fuzzer's bytes into piece lengths (the first byte says how many, each next
/// byte one length) and the protocol input.
pub fn pieces_and_input(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let count = usize::from(count % 16).min(rest.len());
    let (lengths, input) = rest.split_at(count);
    (lengths.iter().map(|&b| usize::from(b)).collect(), input)
}
