//! Subject transforms as nats-server 2.9.10 builds them (`newTransform`, `transform`,
//! `reverse` in `server/accounts.go`): a source pattern with wildcards and a destination
//! template whose `$N` and `{{wildcard(N)}}` tokens (whitespace allowed inside the braces)
//! take the token of the N-th `*` of the source, and whose trailing `>` takes the rest of
//! the subject. A literal source maps to its destination as written.
//!
//! Three users: subject mappings (`mappings {}`, weighted and cluster-scoped:
//! [`WeightedMapping`], `AddWeightedMappings`), and imports whose local subject differs from
//! the exporter's ([`ImportMapping`]: the stream import's delivery subject and the shadow
//! interest in the exporter, the service import's request subject).
//!
//! The mapping functions of 2.9.10 (`partition`, `split`, `splitFromLeft`, `splitFromRight`,
//! `sliceFromLeft`, `sliceFromRight`) are checked as the reference checks them, then refused
//! ([`TransformError::Function`]).
//!
//! A leaf: subjects in, subjects out.

use std::fmt;

use crate::gofmt::quote_str;
use crate::options::MappingDestination;
use crate::subject;

/// Why a transform, a mapping or an import's pair of subjects is refused. Displayed as the
/// reference's error text, which configuration messages embed
/// (`Error adding mapping for "w.*" to "w2" : <this>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    /// `invalid subject`: a source or destination that is not a subject, a `*` in the
    /// destination, or a `>` on one side only.
    InvalidSubject,
    /// `invalid mapping destination: <reason>`, then ` in <token>` when there is one.
    Destination {
        /// What is wrong.
        reason: DestinationError,
        /// The destination token (or whole destination) named by the message.
        token: Option<String>,
    },
    /// `individual weights need to be <= 100`.
    Weight,
    /// `total weight needs to be <= 100`.
    TotalWeight,
    /// `duplicate entry for "x"`: a destination listed twice.
    Duplicate(String),
    /// natsd: `natsd does not support mapping function <destination>`, for a valid
    /// destination that uses one of 2.9.10's mapping functions.
    Function(String),
}

/// The reasons of [`TransformError::Destination`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationError {
    /// `invalid subject`.
    InvalidSubject,
    /// `unknown function`: `{{…}}` that names no mapping function.
    UnknownFunction,
    /// `not using all of the token wildcard(s)`.
    NotUsingAllWildcards,
    /// `wildcard index out of range`.
    IndexOutOfRange,
    /// `not enough arguments passed to the function`.
    NotEnoughArguments,
    /// `too many arguments passed to the function`.
    TooManyArguments,
    /// `function argument is invalid or in the wrong format`.
    InvalidArgument,
}

impl DestinationError {
    fn text(self) -> &'static str {
        match self {
            DestinationError::InvalidSubject => "invalid subject",
            DestinationError::UnknownFunction => "unknown function",
            DestinationError::NotUsingAllWildcards => "not using all of the token wildcard(s)",
            DestinationError::IndexOutOfRange => "wildcard index out of range",
            DestinationError::NotEnoughArguments => "not enough arguments passed to the function",
            DestinationError::TooManyArguments => "too many arguments passed to the function",
            DestinationError::InvalidArgument => {
                "function argument is invalid or in the wrong format"
            }
        }
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformError::InvalidSubject => f.write_str("invalid subject"),
            TransformError::Destination { reason, token } => {
                write!(f, "invalid mapping destination: {}", reason.text())?;
                match token {
                    Some(token) => write!(f, " in {token}"),
                    None => Ok(()),
                }
            }
            TransformError::Weight => f.write_str("individual weights need to be <= 100"),
            TransformError::TotalWeight => f.write_str("total weight needs to be <= 100"),
            TransformError::Duplicate(dest) => write!(f, "duplicate entry for {}", quote_str(dest)),
            TransformError::Function(dest) => {
                write!(f, "natsd does not support mapping function {dest}")
            }
        }
    }
}

impl std::error::Error for TransformError {}

/// An error about `token` of a destination.
fn destination_error(reason: DestinationError, token: &str) -> TransformError {
    TransformError::Destination {
        reason,
        token: Some(token.to_string()),
    }
}

/// One token of a destination template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Written as is.
    Literal(String),
    /// The subject's token at this index (where the source has the `*`).
    Token(usize),
    /// A final `>`: the subject's tokens from the source's `>` on.
    Tail,
}

/// A source pattern and a destination template (the reference's `transform`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    source: String,
    destination: String,
    /// Tokens in the source (a `>` tail starts at the last of them).
    source_tokens: usize,
    /// The destination token by token; `None` for a literal source, whose destination is
    /// used as written (`$1` included, as in the reference).
    parts: Option<Vec<Part>>,
}

/// What `subjectInfo` tells of a subject: its tokens, how many are `*`, whether one is `>`.
/// `None` for an empty subject, an empty token or a token after `>`.
struct Info<'a> {
    tokens: Vec<&'a str>,
    stars: usize,
    tail: bool,
}

fn info(subject: &str) -> Option<Info<'_>> {
    if subject.is_empty() {
        return None;
    }
    let mut info = Info {
        tokens: Vec::new(),
        stars: 0,
        tail: false,
    };
    for token in subject.split('.') {
        if token.is_empty() || info.tail {
            return None;
        }
        match token {
            "*" => info.stars += 1,
            ">" => info.tail = true,
            _ => {}
        }
        info.tokens.push(token);
    }
    Some(info)
}

impl Transform {
    /// The transform from `source` to `destination` (the reference's `newTransform`), with
    /// its error texts: `invalid mapping destination: not using all of the token
    /// wildcard(s) in w2`, `invalid mapping destination: wildcard index out of range in
    /// $2: [2]`, … A destination using a mapping function is refused once otherwise valid.
    pub fn new(source: &str, destination: &str) -> Result<Transform, TransformError> {
        let (Some(src), Some(dst)) = (info(source), info(destination)) else {
            return Err(TransformError::InvalidSubject);
        };
        if dst.stars > 0 || src.tail != dst.tail {
            return Err(TransformError::InvalidSubject);
        }
        let mut transform = Transform {
            source: source.to_string(),
            destination: destination.to_string(),
            source_tokens: src.tokens.len(),
            parts: None,
        };
        if src.stars == 0 && !src.tail {
            return Ok(transform);
        }
        // Where the 1st, 2nd, … `*` of the source is.
        let stars: Vec<usize> = (src.tokens.iter().enumerate())
            .filter(|(_, &token)| token == "*")
            .map(|(at, _)| at)
            .collect();
        let in_range = |token: &str, indexes: &[i64]| match indexes
            .iter()
            .find(|&&i| i > stars.len() as i64)
        {
            Some(index) => Err(destination_error(
                DestinationError::IndexOutOfRange,
                &format!("{token}: [{index}]"),
            )),
            None => Ok(()),
        };
        let (mut parts, mut placeholders, mut function) = (Vec::new(), 0, false);
        for token in &dst.tokens {
            match placeholder(token)? {
                Placeholder::None if *token == ">" => parts.push(Part::Tail),
                Placeholder::None => parts.push(Part::Literal(token.to_string())),
                Placeholder::Wildcard(index) => {
                    placeholders += 1;
                    in_range(token, &[index])?;
                    // An index below 1 takes the first token, as the reference's map
                    // lookup does.
                    let slot = usize::try_from(index)
                        .ok()
                        .and_then(|n| stars.get(n.checked_sub(1)?));
                    parts.push(Part::Token(slot.copied().unwrap_or(0)));
                }
                Placeholder::Function(indexes) => {
                    placeholders += 1;
                    in_range(token, &indexes)?;
                    function = true;
                }
            }
        }
        if placeholders < stars.len() {
            return Err(destination_error(
                DestinationError::NotUsingAllWildcards,
                destination,
            ));
        }
        if function {
            return Err(TransformError::Function(destination.to_string()));
        }
        transform.parts = Some(parts);
        Ok(transform)
    }

    /// The source pattern.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The destination template as given.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// `subject` transformed, or `None` when it does not match the source.
    pub fn apply(&self, subject: &[u8]) -> Option<Vec<u8>> {
        subject::matches(self.source.as_bytes(), subject).then(|| self.transform_subject(subject))
    }

    /// `subject` transformed without checking that it matches the source (the reference's
    /// `transformSubject`; also used on subscription subjects, whose wildcards are then
    /// taken as tokens).
    fn transform_subject(&self, subject: &[u8]) -> Vec<u8> {
        let Some(parts) = &self.parts else {
            return self.destination.as_bytes().to_vec();
        };
        let tokens: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
        let mut out = Vec::with_capacity(subject.len() + self.destination.len());
        for (i, part) in parts.iter().enumerate() {
            match part {
                Part::Literal(token) => out.extend_from_slice(token.as_bytes()),
                Part::Token(at) => out.extend_from_slice(tokens.get(*at).copied().unwrap_or(b"")),
                Part::Tail => {
                    let tail = tokens.get(self.source_tokens - 1..).unwrap_or_default();
                    out.extend_from_slice(&tail.join(&b'.'));
                    break;
                }
            }
            if i + 1 < parts.len() {
                out.push(b'.');
            }
        }
        out
    }

    /// The transform the other way (the reference's `reverse`): from the destination, its
    /// `$N` tokens read as `*`, back to the source with each `*` replaced by the `$N` found
    /// in its place. `None` when that is not a transform (a destination that places its
    /// wildcards with `{{wildcard(N)}}`).
    pub fn reverse(&self) -> Option<Transform> {
        if self.parts.is_none() {
            return Transform::new(&self.destination, &self.source).ok();
        }
        let (source, placeholders) = untokenize(&self.destination);
        let mut placeholders = placeholders.into_iter();
        let destination: Option<Vec<&str>> = (self.source.split('.'))
            .map(|token| match token {
                "*" => placeholders.next(),
                _ => Some(token),
            })
            .collect();
        Transform::new(&source, &destination?.join(".")).ok()
    }
}

/// What a destination token asks for (`indexPlaceHolders`).
enum Placeholder {
    /// Nothing: a literal token.
    None,
    /// `$N` or `{{wildcard(N)}}`.
    Wildcard(i64),
    /// A mapping function of the source wildcards at these indexes.
    Function(Vec<i64>),
}

/// The mapping functions, as their names are written (the first letter and the capitals
/// match either case, as the reference's patterns `[sS]plit[fF]rom[lL]eft`).
const FUNCTIONS: [&str; 7] = [
    "wildcard",
    "partition",
    "splitFromLeft",
    "splitFromRight",
    "sliceFromLeft",
    "sliceFromRight",
    "split",
];

/// Reads a destination token.
fn placeholder(token: &str) -> Result<Placeholder, TransformError> {
    use DestinationError::{InvalidArgument, NotEnoughArguments, TooManyArguments};
    if token.len() < 2 {
        return Ok(Placeholder::None);
    }
    if let Some(index) = token.strip_prefix('$') {
        // Anything else after `$` is literal text.
        return Ok(index
            .parse()
            .map_or(Placeholder::None, Placeholder::Wildcard));
    }
    if !is_mustache(token) {
        return Ok(Placeholder::None);
    }
    let found = FUNCTIONS
        .iter()
        .find_map(|&name| Some((name, function_args(token, name)?)));
    let Some((name, args)) = found else {
        return Err(destination_error(DestinationError::UnknownFunction, token));
    };
    let int = |arg: &str| arg.trim_matches(' ').parse::<i64>().ok();
    let function = |index: i64| Placeholder::Function(vec![index]);
    let placeholder = match (name, split_args(args).as_slice()) {
        ("wildcard", [""]) => Err(NotEnoughArguments),
        ("wildcard", [index]) => int(index).map(Placeholder::Wildcard).ok_or(InvalidArgument),
        ("wildcard", _) => Err(TooManyArguments),
        (_, [] | [_]) => Err(NotEnoughArguments),
        ("partition", [count, indexes @ ..]) => {
            let indexes: Option<Vec<i64>> = indexes.iter().map(|index| int(index)).collect();
            match (int(count), indexes) {
                (Some(_), Some(indexes)) => Ok(Placeholder::Function(indexes)),
                _ => Err(InvalidArgument),
            }
        }
        (_, [_, _, _, ..]) => Err(TooManyArguments),
        ("split", [index, separator]) => match int(index) {
            Some(index) if !separator.contains([' ', '.']) => Ok(function(index)),
            _ => Err(InvalidArgument),
        },
        (_, [index, size]) => match (int(index), int(size)) {
            (Some(index), Some(_)) => Ok(function(index)),
            _ => Err(InvalidArgument),
        },
    };
    placeholder.map_err(|reason| destination_error(reason, token))
}

/// Whether a token is `{{…}}` (at least five bytes).
fn is_mustache(token: &str) -> bool {
    token.len() > 4 && token.starts_with("{{") && token.ends_with("}}")
}

/// Go's `\s`.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).copied().is_some_and(is_space) {
        at += 1;
    }
    at
}

/// The argument text of the mapping function `name` in `token`, as the reference's
/// pattern `{{\s*<name>\s*\((.*)\)\s*}}` finds it: anywhere in the token, the leftmost
/// start, the longest argument text (not across a newline).
fn function_args<'a>(token: &'a str, name: &str) -> Option<&'a str> {
    let bytes = token.as_bytes();
    (0..bytes.len()).find_map(|start| {
        if !bytes[start..].starts_with(b"{{") {
            return None;
        }
        let mut at = skip_space(bytes, start + 2);
        for (i, want) in name.bytes().enumerate() {
            let got = *bytes.get(at)?;
            let either_case = i == 0 || want.is_ascii_uppercase();
            if got != want && !(either_case && got.eq_ignore_ascii_case(&want)) {
                return None;
            }
            at += 1;
        }
        at = skip_space(bytes, at);
        if bytes.get(at) != Some(&b'(') {
            return None;
        }
        let open = at + 1;
        let end =
            (bytes[open..].iter().position(|&b| b == b'\n')).map_or(bytes.len(), |n| open + n);
        (open..end).rev().find_map(|close| {
            let closed =
                bytes[close] == b')' && bytes[skip_space(bytes, close + 1)..].starts_with(b"}}");
            closed.then(|| &token[open..close])
        })
    })
}

/// Function arguments split at commas, the spaces after each comma dropped (`,\s*`).
fn split_args(args: &str) -> Vec<&str> {
    (args.split(','))
        .enumerate()
        .map(|(i, arg)| match i {
            0 => arg,
            _ => arg.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8)),
        })
        .collect()
}

/// The reference's `ValidateMappingDestination`: each token non-empty, nothing after `>`,
/// no whitespace outside `{{…}}`, and `{{…}}` naming a mapping function.
fn validate_destination(destination: &str) -> Result<(), TransformError> {
    let mut tail = false;
    for token in destination.split('.') {
        if token.is_empty() || tail {
            return Err(destination_error(DestinationError::InvalidSubject, token));
        }
        if is_mustache(token) {
            if !FUNCTIONS
                .iter()
                .any(|name| function_args(token, name).is_some())
            {
                return Err(destination_error(DestinationError::UnknownFunction, token));
            }
            continue;
        }
        if token == ">" {
            tail = true;
        } else if token.bytes().any(is_space) {
            return Err(TransformError::Destination {
                reason: DestinationError::InvalidSubject,
                token: None,
            });
        }
    }
    Ok(())
}

/// `foo.*.*` → `foo.$1.$2` (`transformTokenize`).
fn tokenize(subject: &str) -> String {
    let mut n = 0;
    let tokens: Vec<String> = (subject.split('.'))
        .map(|token| match token {
            "*" => {
                n += 1;
                format!("${n}")
            }
            _ => token.to_string(),
        })
        .collect();
    tokens.join(".")
}

/// `foo.$1.$2` → (`foo.*.*`, [`$1`, `$2`]) (`transformUntokenize`).
fn untokenize(subject: &str) -> (String, Vec<&str>) {
    let mut placeholders = Vec::new();
    let tokens: Vec<&str> = (subject.split('.'))
        .map(|token| match token.as_bytes() {
            [b'$', b'1'..=b'9', ..] => {
                placeholders.push(token);
                "*"
            }
            _ => token,
        })
        .collect();
    (tokens.join("."), placeholders)
}

/// How an import relates the exporter's subject and the importer's local one (the
/// reference's `from`, `to`, `tr` and `usePub` of a stream or service import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportMapping {
    exporter: String,
    local: String,
    map: ImportMap,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ImportMap {
    /// A literal exporter subject: one subject on each side (whatever the local one looks
    /// like).
    Literal,
    /// The same wildcard subject on both sides: subjects pass unchanged.
    Same,
    /// Wildcards placed positionally, both ways.
    Mapped {
        to_local: Transform,
        to_exporter: Transform,
    },
}

impl ImportMapping {
    /// The mapping between `exporter` (the imported subject) and `local` (`to`, the prefixed
    /// subject, or `exporter` itself), where a `*` of `local` stands for the wildcard in the
    /// same position of `exporter` and `$N` for the N-th (the reference's
    /// `AddMappedStreamImport` / `addServiceImport`: `newTransform(exporter,
    /// transformTokenize(local))`). The error is the transform's.
    pub fn new(exporter: &str, local: &str) -> Result<ImportMapping, TransformError> {
        let literal = subject::is_literal(exporter.as_bytes());
        let (exporter, local, map) = if literal || exporter == local {
            let map = if literal {
                ImportMap::Literal
            } else {
                ImportMap::Same
            };
            (exporter.to_string(), local.to_string(), map)
        } else {
            let (exporter, _) = untokenize(exporter);
            let to_local = Transform::new(&exporter, &tokenize(local))?;
            let to_exporter = to_local.reverse().ok_or(TransformError::InvalidSubject)?;
            let (local, _) = untokenize(local);
            let map = ImportMap::Mapped {
                to_local,
                to_exporter,
            };
            (exporter, local, map)
        };
        Ok(ImportMapping {
            exporter,
            local,
            map,
        })
    }

    /// The subject on the exporter's side.
    pub fn exporter(&self) -> &str {
        &self.exporter
    }

    /// The subject on the importer's side, with `*` where wildcards are mapped (what
    /// `/accountz` shows as a stream import's `local_subject`).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The local subject of a message the exporter published on `subject` (which matches
    /// [`ImportMapping::exporter`]): a stream import's delivery subject.
    pub fn to_local(&self, subject: &[u8]) -> Vec<u8> {
        match &self.map {
            ImportMap::Literal => self.local.as_bytes().to_vec(),
            ImportMap::Same => subject.to_vec(),
            ImportMap::Mapped { to_local, .. } => to_local.transform_subject(subject),
        }
    }

    /// The exporter's subject for a local `subject` (which matches
    /// [`ImportMapping::local`]): a service import's request subject.
    pub fn to_exporter(&self, subject: &[u8]) -> Vec<u8> {
        match &self.map {
            ImportMap::Literal => self.exporter.as_bytes().to_vec(),
            ImportMap::Same => subject.to_vec(),
            ImportMap::Mapped { to_exporter, .. } => to_exporter.transform_subject(subject),
        }
    }

    /// For a stream import: the subject to subscribe to in the exporter on behalf of a
    /// local subscription on `subscription`, or `None` when the two do not meet (the
    /// reference's shadow subscription, `addShadowSubscriptions` / `addShadowSub`). The
    /// import's subject when the subscription covers the local subject; the matching part
    /// mapped back when the local subject covers the subscription or they overlap.
    pub fn exporter_interest(&self, subscription: &[u8]) -> Option<Vec<u8>> {
        let local = self.local.as_bytes();
        let (narrower, overlap) = if subscription == local {
            (false, None)
        } else if subject::is_subset_match(subscription, local) {
            (true, None)
        } else if subject::is_literal(subscription) {
            return None;
        } else if subject::is_subset_match(local, subscription) {
            (false, None)
        } else {
            let overlap = overlap(subscription, local);
            if !subject::is_subset_match(&overlap, local) {
                return None;
            }
            (true, Some(overlap))
        };
        Some(match (&self.map, overlap) {
            (ImportMap::Mapped { to_exporter, .. }, overlap) if narrower => {
                to_exporter.transform_subject(overlap.as_deref().unwrap_or(subscription))
            }
            (ImportMap::Same, None) if narrower => subscription.to_vec(),
            (_, overlap) => overlap.unwrap_or_else(|| self.exporter.as_bytes().to_vec()),
        })
    }
}

/// The subscription `subscription` narrowed by the local subject `local`: its `*` take
/// `local`'s tokens (unless `>`), and a final `>` takes the rest of `local`.
fn overlap(subscription: &[u8], local: &[u8]) -> Vec<u8> {
    let mut tokens: Vec<&[u8]> = subscription.split(|&b| b == b'.').collect();
    let local: Vec<&[u8]> = local.split(|&b| b == b'.').collect();
    for (token, &with) in tokens.iter_mut().zip(&local) {
        if *token == b"*" && with != b">" {
            *token = with;
        }
    }
    let last = tokens.len() - 1;
    if tokens[last] == b">" && local.len() >= tokens.len() {
        tokens[last] = local[last];
        tokens.extend_from_slice(&local[last + 1..]);
    }
    tokens.join(&b'.')
}

/// A destination with its cumulative weight (the upper bound of its share of 0–99).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Weighted {
    transform: Transform,
    cumulative: u8,
}

/// One source's weighted destinations (the reference's `mapping`, `AddWeightedMappings`):
/// those without a cluster, and those of each cluster, each list sorted by weight with
/// cumulative weights. Where weights sum to less than 100 and the source is not itself a
/// destination, the source is added with the remainder; otherwise the missing share maps
/// to nothing (the message is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedMapping {
    source: String,
    default: Vec<Weighted>,
    /// In the order clusters first appear.
    clusters: Vec<(String, Vec<Weighted>)>,
}

impl WeightedMapping {
    /// The mapping of `source` (a subject, wildcards allowed) to `destinations`, with the
    /// reference's errors: `duplicate entry for "x"`, `total weight needs to be <= 100`
    /// (all destinations counted, cluster-scoped ones included), then the destination's or
    /// transform's.
    pub fn new(
        source: &str,
        destinations: &[MappingDestination],
    ) -> Result<WeightedMapping, TransformError> {
        if !subject::is_valid_subject(source.as_bytes()) {
            return Err(TransformError::InvalidSubject);
        }
        let mut mapping = WeightedMapping {
            source: source.to_string(),
            default: Vec::new(),
            clusters: Vec::new(),
        };
        let mut total = 0u32;
        for (i, dest) in destinations.iter().enumerate() {
            if destinations[..i].iter().any(|d| d.subject == dest.subject) {
                return Err(TransformError::Duplicate(dest.subject.clone()));
            }
            if dest.weight > 100 {
                return Err(TransformError::Weight);
            }
            total += u32::from(dest.weight);
            if total > 100 {
                return Err(TransformError::TotalWeight);
            }
            validate_destination(&dest.subject)?;
            let weighted = Weighted {
                transform: Transform::new(source, &dest.subject)?,
                cumulative: dest.weight,
            };
            let group = match &dest.cluster {
                None => &mut mapping.default,
                Some(cluster) => match mapping.clusters.iter().position(|(c, _)| c == cluster) {
                    Some(at) => &mut mapping.clusters[at].1,
                    None => {
                        mapping.clusters.push((cluster.clone(), Vec::new()));
                        &mut mapping.clusters.last_mut().expect("just pushed").1
                    }
                },
            };
            group.push(weighted);
        }
        let source_listed = destinations.iter().any(|d| d.subject == source);
        let groups = std::iter::once(&mut mapping.default)
            .chain(mapping.clusters.iter_mut().map(|(_, group)| group));
        for group in groups {
            let sum: u8 = group.iter().map(|w| w.cumulative).sum();
            if sum != 100 && !source_listed {
                let same = if subject::is_literal(source.as_bytes()) {
                    source.to_string()
                } else {
                    tokenize(source)
                };
                group.push(Weighted {
                    transform: Transform::new(source, &same)?,
                    cumulative: 100 - sum,
                });
            }
            group.sort_by_key(|w| w.cumulative);
            let mut below = 0;
            for weighted in group.iter_mut() {
                weighted.cumulative += below;
                below = weighted.cumulative;
            }
        }
        Ok(mapping)
    }

    /// The source subject.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether a published `subject` is one this mapping applies to.
    pub fn matches(&self, subject: &[u8]) -> bool {
        subject::matches(self.source.as_bytes(), subject)
    }

    /// The destination for a message, given `roll`, a uniformly random number in 0..100,
    /// and the server's cluster name: among the destinations of that cluster if the mapping
    /// has any, else among those without a cluster. `None`: the message is dropped.
    pub fn select(&self, roll: u8, cluster: Option<&str>) -> Option<&Transform> {
        let scoped = cluster.and_then(|name| self.clusters.iter().find(|(c, _)| c == name));
        let group = scoped.map_or(&self.default, |(_, group)| group);
        (group.iter())
            .find(|weighted| roll < weighted.cumulative)
            .map(|weighted| &weighted.transform)
    }

    /// Every destination with its cumulative weight, those without a cluster first (the
    /// remainder entry included), as `/accountz` lists them.
    pub fn cumulative_weights(&self) -> Vec<MappingDestination> {
        let groups = std::iter::once((None, &self.default))
            .chain((self.clusters.iter()).map(|(cluster, group)| (Some(cluster), group)));
        groups
            .flat_map(|(cluster, group)| {
                group.iter().map(move |weighted| MappingDestination {
                    subject: weighted.transform.destination.clone(),
                    weight: weighted.cumulative,
                    cluster: cluster.cloned(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transform(source: &str, destination: &str) -> Transform {
        Transform::new(source, destination).unwrap()
    }

    fn error(source: &str, destination: &str) -> String {
        Transform::new(source, destination).unwrap_err().to_string()
    }

    fn apply(t: &Transform, subject: &str) -> Option<String> {
        (t.apply(subject.as_bytes())).map(|s| String::from_utf8(s).unwrap())
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn wildcards_in_the_destination() {
        let t = transform("w.*", "w2.$1");
        assert_eq!(apply(&t, "w.x").as_deref(), Some("w2.x"));
        assert_eq!(apply(&t, "w.x.y"), None);
        assert_eq!(apply(&t, "v.x"), None);
        let t = transform("a.*.*", "b.{{wildcard(2)}}.{{wildcard(1)}}");
        assert_eq!(apply(&t, "a.1.2").as_deref(), Some("b.2.1"));
        let t = transform("a.*.*", "b.{{ Wildcard( 2 ) }}.$1");
        assert_eq!(apply(&t, "a.1.2").as_deref(), Some("b.2.1"));
        let t = transform("ev.>", "x.>");
        assert_eq!(apply(&t, "ev.q.r").as_deref(), Some("x.q.r"));
        let t = transform("a.*.>", "$1.b.>");
        assert_eq!(apply(&t, "a.1.2.3").as_deref(), Some("1.b.2.3"));
        let t = transform(">", ">");
        assert_eq!(apply(&t, "any.thing").as_deref(), Some("any.thing"));
        assert_eq!(t.source(), ">");
        assert_eq!(t.destination(), ">");
    }

    #[test]
    fn reference_quirks() {
        // ✓ref: each of these passes `nats-server -t` as a mapping.
        let t = transform("foo", "bar.$1");
        assert_eq!(
            apply(&t, "foo").as_deref(),
            Some("bar.$1"),
            "literal source"
        );
        let t = transform("foo", "bar.{{partition(3)}}");
        assert_eq!(apply(&t, "foo").as_deref(), Some("bar.{{partition(3)}}"));
        let t = transform("a.*.*", "b.$1.$1");
        assert_eq!(
            apply(&t, "a.1.2").as_deref(),
            Some("b.1.1"),
            "counts placeholders"
        );
        let t = transform("a.*", "b.$0");
        assert_eq!(
            apply(&t, "a.1").as_deref(),
            Some("b.a"),
            "index 0: the first token"
        );
        let t = transform("a.*", "b.$-9223372036854775808");
        assert_eq!(apply(&t, "a.1").as_deref(), Some("b.a"));
        // ✓ref: not an index, so a literal token, and a wildcard left unused.
        assert_eq!(
            error("a.*", "b.$99999999999999999999"),
            "invalid mapping destination: not using all of the token wildcard(s) in b.$99999999999999999999"
        );
        let t = transform("a.*", "b.$x.$1");
        assert_eq!(apply(&t, "a.1").as_deref(), Some("b.$x.1"));
    }

    #[test]
    fn errors_read_as_the_reference() {
        // ✓ref (the text after `Error adding mapping for "…" to "…" : `).
        assert_eq!(
            error("w.*", "w2"),
            "invalid mapping destination: not using all of the token wildcard(s) in w2"
        );
        assert_eq!(
            error("foo.*", "bar.$2"),
            "invalid mapping destination: wildcard index out of range in $2: [2]"
        );
        assert_eq!(
            error("foo.*", "bar.{{partition(3)}}"),
            "invalid mapping destination: not enough arguments passed to the function in {{partition(3)}}"
        );
        assert_eq!(
            error("a.*", "b.{{wildcard()}}"),
            "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}"
        );
        assert_eq!(
            error("a.*", "b.{{wildcard(x)}}"),
            "invalid mapping destination: function argument is invalid or in the wrong format in {{wildcard(x)}}"
        );
        assert_eq!(
            error("a.*", "b.{{wildcard(1,2)}}"),
            "invalid mapping destination: too many arguments passed to the function in {{wildcard(1,2)}}"
        );
        assert_eq!(
            error("a.*", "b.{{wildcard(3)}}"),
            "invalid mapping destination: wildcard index out of range in {{wildcard(3)}}: [3]"
        );
        assert_eq!(
            error("a.*", "b.{{bogus(1)}}"),
            "invalid mapping destination: unknown function in {{bogus(1)}}"
        );
        for (source, destination) in [
            ("foo", "bar.*"),
            ("foo", "bar.>"),
            ("a.>", "b.$1"),
            ("foo..x", "bar"),
            ("", "bar"),
            ("foo", ""),
            ("foo.>.x", "bar.>.x"),
        ] {
            assert_eq!(
                error(source, destination),
                "invalid subject",
                "{source} → {destination}"
            );
        }
    }

    #[test]
    fn mapping_functions_are_checked_then_refused() {
        for destination in [
            "b.{{partition(3,1)}}",
            "b.{{Partition(3, 1)}}",
            "b.{{split(1,-)}}",
            "b.{{split(1, )}}",
            "b.{{splitFromLeft(1,2)}}",
            "b.{{SplitFromRight(1,2)}}",
            "b.{{sliceFromLeft(1,2)}}",
            "b.{{sliceFromRight(1,2)}}.$1",
            "b.$1.{{splitfromleft(1,2)}}",
        ] {
            assert_eq!(
                Transform::new("a.*", destination),
                Err(TransformError::Function(destination.to_string()))
            );
            assert_eq!(
                error("a.*", destination),
                format!("natsd does not support mapping function {destination}")
            );
        }
        let cases = [
            ("{{partition(x,1)}}", DestinationError::InvalidArgument),
            ("{{partition(3,y)}}", DestinationError::InvalidArgument),
            ("{{partition(3,2)}}", DestinationError::IndexOutOfRange),
            ("{{split(1)}}", DestinationError::NotEnoughArguments),
            ("{{split(1,-,x)}}", DestinationError::TooManyArguments),
            ("{{split(x,-)}}", DestinationError::InvalidArgument),
            ("{{split(1,a b)}}", DestinationError::InvalidArgument),
            ("{{splitFromLeft(1)}}", DestinationError::NotEnoughArguments),
            (
                "{{sliceFromRight(1,2,3)}}",
                DestinationError::TooManyArguments,
            ),
            ("{{sliceFromLeft(1,x)}}", DestinationError::InvalidArgument),
            ("{{SPLIT(1,-)}}", DestinationError::UnknownFunction),
        ];
        for (token, reason) in cases {
            let got = Transform::new("a.*", &format!("b.$1.{token}"));
            let Err(TransformError::Destination { reason: got, .. }) = got else {
                panic!("{token}: {got:?}");
            };
            assert_eq!(got, reason, "{token}");
        }
    }

    #[test]
    fn function_patterns() {
        assert_eq!(function_args("{{wildcard(1)}}", "wildcard"), Some("1"));
        assert_eq!(
            function_args("{{ \t wildcard ( 1 ) \n}}", "wildcard"),
            Some(" 1 ")
        );
        assert_eq!(function_args("{{WildCard(1)}}", "wildcard"), None);
        assert_eq!(function_args("{{x}}{{wildcard(1)}}", "wildcard"), Some("1"));
        assert_eq!(function_args("{{wildcard(1)}}x}}", "wildcard"), Some("1"));
        assert_eq!(function_args("{{wildcard(a)b)}}", "wildcard"), Some("a)b"));
        assert_eq!(function_args("{{wildcard(1\n)}}", "wildcard"), None);
        assert_eq!(function_args("{{wildcard1)}}", "wildcard"), None);
        assert_eq!(split_args(""), [""]);
        assert_eq!(split_args("1, \t2 ,3"), ["1", "2 ", "3"]);
    }

    #[test]
    fn destinations_checked_for_mappings() {
        // ✓ref.
        let invalid = |destination| validate_destination(destination).unwrap_err().to_string();
        assert_eq!(
            invalid("bar..x"),
            "invalid mapping destination: invalid subject in "
        );
        assert_eq!(
            invalid("bar.>.x"),
            "invalid mapping destination: invalid subject in x"
        );
        assert_eq!(
            invalid("bar baz"),
            "invalid mapping destination: invalid subject"
        );
        assert_eq!(
            invalid("bar.{{bogus(3)}}"),
            "invalid mapping destination: unknown function in {{bogus(3)}}"
        );
        assert_eq!(validate_destination("b.{{ wildcard( 1 ) }}.>"), Ok(()));
        assert_eq!(
            validate_destination("b\x0bc"),
            Ok(()),
            "Go's list has no \\v"
        );
    }

    #[test]
    fn reverse() {
        let back = transform("foo.*", "bar.$1").reverse().unwrap();
        assert_eq!((back.source(), back.destination()), ("bar.*", "foo.$1"));
        let back = transform("a.*.*", "b.$2.$1").reverse().unwrap();
        assert_eq!(apply(&back, "b.y.x").as_deref(), Some("a.x.y"));
        let back = transform("events.>", "fromA.events.>").reverse().unwrap();
        assert_eq!(
            apply(&back, "fromA.events.x.y").as_deref(),
            Some("events.x.y")
        );
        let back = transform("foo", "bar").reverse().unwrap();
        assert_eq!(apply(&back, "bar").as_deref(), Some("foo"));
        assert_eq!(transform("a.*", "b.{{wildcard(1)}}").reverse(), None);
    }

    fn import_of(exporter: &str, local: &str) -> ImportMapping {
        ImportMapping::new(exporter, local).unwrap()
    }

    fn interest(import: &ImportMapping, subscription: &str) -> Option<String> {
        import.exporter_interest(subscription.as_bytes()).map(text)
    }

    #[test]
    fn stream_import_with_a_prefix() {
        // accounts.md §2.3: B imports A's `events.>` with prefix `fromA`.
        let import = import_of("events.>", "fromA.events.>");
        assert_eq!(
            (import.exporter(), import.local()),
            ("events.>", "fromA.events.>")
        );
        assert_eq!(text(import.to_local(b"events.x")), "fromA.events.x");
        for (subscription, exporter) in [
            ("fromA.events.>", Some("events.>")),
            ("fromA.events.x", Some("events.x")),
            ("fromA.events.*", Some("events.*")),
            ("fromA.>", Some("events.>")),
            (">", Some("events.>")),
            ("fromA.*.x", Some("events.x")),
            ("*.events.>", Some("events.>")),
            ("events.>", None),
            ("fromA.other", None),
            ("fromA.events", None),
        ] {
            assert_eq!(
                interest(&import, subscription).as_deref(),
                exporter,
                "{subscription}"
            );
        }
    }

    #[test]
    fn stream_import_to_a_literal_subject() {
        // `to: priv.x` for A's `private.x`.
        let import = import_of("private.x", "priv.x");
        assert_eq!(text(import.to_local(b"private.x")), "priv.x");
        assert_eq!(interest(&import, "priv.x").as_deref(), Some("private.x"));
        assert_eq!(interest(&import, "priv.*").as_deref(), Some("private.x"));
        assert_eq!(interest(&import, ">").as_deref(), Some("private.x"));
        assert_eq!(interest(&import, "private.>"), None);
        assert_eq!(interest(&import, "priv.y"), None);
    }

    #[test]
    fn stream_import_with_mapped_wildcards() {
        // `foo.*` → `bar.*`: `foo.k` → `bar.k`; `ev.>` → `x.>`: `ev.q.r` → `x.q.r` (✓ref).
        let import = import_of("foo.*", "bar.*");
        assert_eq!(import.local(), "bar.*");
        assert_eq!(text(import.to_local(b"foo.k")), "bar.k");
        assert_eq!(interest(&import, "bar.k").as_deref(), Some("foo.k"));
        assert_eq!(interest(&import, "bar.*").as_deref(), Some("foo.*"));
        assert_eq!(interest(&import, ">").as_deref(), Some("foo.*"));
        assert_eq!(interest(&import, "foo.k"), None);
        let import = import_of("ev.>", "x.>");
        assert_eq!(text(import.to_local(b"ev.q.r")), "x.q.r");
        assert_eq!(interest(&import, "x.q.>").as_deref(), Some("ev.q.>"));
        let import = import_of("a.*.*", "b.$2.$1");
        assert_eq!(import.local(), "b.*.*");
        assert_eq!(text(import.to_local(b"a.1.2")), "b.2.1");
        assert_eq!(interest(&import, "b.2.1").as_deref(), Some("a.1.2"));
        assert_eq!(interest(&import, "b.2.*").as_deref(), Some("a.*.2"));
    }

    #[test]
    fn stream_import_of_the_same_subject() {
        let import = import_of("events.>", "events.>");
        assert_eq!(text(import.to_local(b"events.x")), "events.x");
        assert_eq!(interest(&import, "events.x").as_deref(), Some("events.x"));
        assert_eq!(interest(&import, "events.>").as_deref(), Some("events.>"));
        assert_eq!(interest(&import, ">").as_deref(), Some("events.>"));
        assert_eq!(interest(&import, "*.x").as_deref(), Some("events.x"));
        assert_eq!(interest(&import, "other"), None);
    }

    #[test]
    fn service_imports() {
        // `{service: {account: A, subject: "svc.wc.*"}, to: "wc.*"}` maps `wc.foo` →
        // `svc.wc.foo` (✓ref).
        let import = import_of("svc.wc.*", "wc.*");
        assert_eq!(text(import.to_exporter(b"wc.foo")), "svc.wc.foo");
        let import = import_of("svc.echo", "echo");
        assert_eq!(text(import.to_exporter(b"echo")), "svc.echo");
        let import = import_of("svc", "wc.*");
        assert_eq!(text(import.to_exporter(b"wc.x")), "svc");
        let import = import_of("svc.*", "svc.*");
        assert_eq!(text(import.to_exporter(b"svc.x")), "svc.x");
        // ✓ref, after `failed to create mapping transform for service import subject
        // "x.*.*" to "svc.*": `.
        assert_eq!(
            ImportMapping::new("svc.*", "x.*.*")
                .unwrap_err()
                .to_string(),
            "invalid mapping destination: wildcard index out of range in $2: [2]"
        );
        assert_eq!(
            ImportMapping::new("svc.*", "wc").unwrap_err().to_string(),
            "invalid mapping destination: not using all of the token wildcard(s) in wc"
        );
    }

    fn dest(subject: &str, weight: u8, cluster: Option<&str>) -> MappingDestination {
        MappingDestination {
            subject: subject.to_string(),
            weight,
            cluster: cluster.map(str::to_string),
        }
    }

    fn weights(mapping: &WeightedMapping) -> Vec<(String, u8, Option<String>)> {
        (mapping.cumulative_weights().into_iter())
            .map(|d| (d.subject, d.weight, d.cluster))
            .collect()
    }

    fn owned(list: &[(&str, u8, Option<&str>)]) -> Vec<(String, u8, Option<String>)> {
        (list.iter())
            .map(|&(s, w, c)| (s.to_string(), w, c.map(str::to_string)))
            .collect()
    }

    fn selected<'a>(
        mapping: &'a WeightedMapping,
        roll: u8,
        cluster: Option<&str>,
    ) -> Option<&'a str> {
        mapping.select(roll, cluster).map(Transform::destination)
    }

    #[test]
    fn plain_mapping() {
        let mapping = WeightedMapping::new("m.in", &[dest("m.out", 100, None)]).unwrap();
        assert_eq!(mapping.source(), "m.in");
        assert!(mapping.matches(b"m.in"));
        assert!(!mapping.matches(b"m.other"));
        assert_eq!(weights(&mapping), owned(&[("m.out", 100, None)]));
        for roll in [0, 50, 99] {
            let t = mapping.select(roll, Some("any")).unwrap();
            assert_eq!(t.apply(b"m.in"), Some(b"m.out".to_vec()));
        }
    }

    #[test]
    fn weighted_mappings_with_the_remainder() {
        // /accountz ✓ref: cumulative weights, the remainder entry listed.
        let split = [dest("m.s1", 50, None), dest("m.s2", 50, None)];
        let mapping = WeightedMapping::new("m.split", &split).unwrap();
        assert_eq!(
            weights(&mapping),
            owned(&[("m.s1", 50, None), ("m.s2", 100, None)])
        );
        assert_eq!(selected(&mapping, 0, None), Some("m.s1"));
        assert_eq!(selected(&mapping, 49, None), Some("m.s1"));
        assert_eq!(selected(&mapping, 50, None), Some("m.s2"));
        assert_eq!(selected(&mapping, 99, None), Some("m.s2"));
        let mapping = WeightedMapping::new("m.some", &[dest("m.some.dest", 30, None)]).unwrap();
        let want = [("m.some.dest", 30, None), ("m.some", 100, None)];
        assert_eq!(weights(&mapping), owned(&want));
        assert_eq!(selected(&mapping, 29, None), Some("m.some.dest"));
        assert_eq!(selected(&mapping, 30, None), Some("m.some"));
        // Sorted by weight; the remainder of a wildcard source keeps its wildcards.
        let three = [dest("w.a.$1", 60, None), dest("w.b.$1", 10, None)];
        let mapping = WeightedMapping::new("w.*", &three).unwrap();
        let want = [
            ("w.b.$1", 10, None),
            ("w.$1", 40, None),
            ("w.a.$1", 100, None),
        ];
        assert_eq!(weights(&mapping), owned(&want));
        let t = mapping.select(20, None).unwrap();
        assert_eq!(t.apply(b"w.x"), Some(b"w.x".to_vec()));
    }

    #[test]
    fn a_listed_source_drops_the_rest() {
        let listed = [dest("m.keep", 50, None), dest("m.x", 30, None)];
        let mapping = WeightedMapping::new("m.keep", &listed).unwrap();
        assert_eq!(
            weights(&mapping),
            owned(&[("m.x", 30, None), ("m.keep", 80, None)])
        );
        assert_eq!(selected(&mapping, 79, None), Some("m.keep"));
        assert_eq!(selected(&mapping, 80, None), None, "dropped");
    }

    #[test]
    fn cluster_scoped_destinations() {
        let list = [
            dest("east.x", 100, Some("east")),
            dest("west.x", 40, Some("west")),
            dest("any.x", 0, None),
        ];
        // 140 in all: the reference counts every destination in one total.
        assert_eq!(
            WeightedMapping::new("x", &list).unwrap_err(),
            TransformError::TotalWeight
        );
        let list = [
            dest("east.x", 60, Some("east")),
            dest("west.x", 40, Some("west")),
        ];
        let mapping = WeightedMapping::new("x", &list).unwrap();
        let want = [
            ("x", 100, None),
            ("x", 40, Some("east")),
            ("east.x", 100, Some("east")),
            ("west.x", 40, Some("west")),
            ("x", 100, Some("west")),
        ];
        assert_eq!(weights(&mapping), owned(&want));
        assert_eq!(selected(&mapping, 39, Some("east")), Some("x"));
        assert_eq!(selected(&mapping, 40, Some("east")), Some("east.x"));
        assert_eq!(selected(&mapping, 10, Some("west")), Some("west.x"));
        assert_eq!(selected(&mapping, 10, Some("north")), Some("x"));
        assert_eq!(selected(&mapping, 10, None), Some("x"));
    }

    #[test]
    fn weighted_mapping_errors() {
        let err = |source: &str, list: &[MappingDestination]| {
            WeightedMapping::new(source, list).unwrap_err().to_string()
        };
        let over = [dest("a", 60, None), dest("b", 50, None)];
        assert_eq!(err("x", &over), "total weight needs to be <= 100");
        let twice = [dest("a", 10, None), dest("a", 10, Some("c"))];
        assert_eq!(err("x", &twice), r#"duplicate entry for "a""#);
        assert_eq!(
            err("x", &[dest("a", 101, None)]),
            "individual weights need to be <= 100"
        );
        assert_eq!(err("x..y", &[dest("a", 1, None)]), "invalid subject");
        assert_eq!(
            err("x.*", &[dest("a", 50, None)]),
            "invalid mapping destination: not using all of the token wildcard(s) in a"
        );
        assert_eq!(
            err("x", &[dest("a b", 50, None)]),
            "invalid mapping destination: invalid subject"
        );
        assert_eq!(
            err("x.*", &[dest("a.{{partition(2,1)}}", 50, None)]),
            "natsd does not support mapping function a.{{partition(2,1)}}"
        );
        let empty = WeightedMapping::new("x", &[]).unwrap();
        assert_eq!(weights(&empty), owned(&[("x", 100, None)]));
    }
}
