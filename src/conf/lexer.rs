//! The tokenizer: a state machine that reproduces the reference lexer
//! (`conf/lex.go` of nats-server 2.9) byte for byte, including its quirks:
//! which characters end which token, the item positions it reports, the
//! wording of its errors, and that a NUL byte reads as end of input.
//!
//! States are plain enum values; a stack of "return" states lets values,
//! comments and includes be lexed the same way wherever they appear. Nothing
//! here recurses, so any nesting depth is safe for the lexer itself.

use std::collections::VecDeque;

use super::chars::{
    decode_rune, escape_special, go_lower_eq, is_blank, is_digit, is_newline, is_space, EOF,
};

/// What a lexed item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// A lexing error; the text is the message.
    Error,
    /// End of input.
    Eof,
    /// A map key.
    Key,
    /// A string value (quoted, unquoted, block or IP-like).
    String,
    /// An unquoted boolean word.
    Bool,
    /// An integer, possibly with a size suffix.
    Integer,
    /// A float.
    Float,
    /// An ISO-8601 Zulu datetime.
    Datetime,
    /// `[`.
    ArrayStart,
    /// `]`.
    ArrayEnd,
    /// `{`.
    MapStart,
    /// `}`.
    MapEnd,
    /// `$name`; the text is the name without the `$`.
    Variable,
    /// `include <path>`; the text is the path.
    Include,
}

/// One token with the line and in-line position the reference assigns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    /// The token kind.
    pub(crate) kind: ItemKind,
    /// The token text (escapes already decoded; may be invalid UTF-8).
    pub(crate) text: Vec<u8>,
    /// 1-based line at the moment the item was emitted.
    pub(crate) line: usize,
    /// Byte offset within the line as the reference computes it (0-based on
    /// line 1, 1-based on later lines).
    pub(crate) pos: usize,
}

/// The lexer states (one per state function of the reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Top,
    TopValueEnd,
    KeyStart,
    DubQuotedKey,
    QuotedKey,
    Key,
    KeyEnd,
    IncludeStart,
    Include,
    IncludeQuotedString,
    IncludeDubQuotedString,
    IncludeString,
    Value,
    ArrayValue,
    ArrayValueEnd,
    ArrayEnd,
    MapKeyStart,
    MapQuotedKey,
    MapDubQuotedKey,
    MapKey,
    MapKeyEnd,
    MapValue,
    MapValueEnd,
    MapEnd,
    QuotedString,
    DubQuotedString,
    String,
    Block,
    StringEscape,
    StringBinary,
    NumberOrDateOrStringOrIp,
    ConvenientNumber,
    DateAfterYear,
    NegNumberStart,
    NegNumber,
    FloatStart,
    Float,
    IpAddr,
    Comment,
}

/// The next state, or `None` once lexing has stopped (EOF or error).
type Step = Option<State>;

/// Pull-based lexer over raw bytes.
pub(crate) struct Lexer<'a> {
    input: &'a [u8],
    /// Start of the pending token.
    start: usize,
    /// Current read position.
    pos: usize,
    /// Width of the last rune read (0 at EOF).
    width: usize,
    /// Current line (1-based).
    line: usize,
    /// Offset of the last `\n` read (0 before the first one).
    line_start: usize,
    /// `line_start` as it was when the pending token started.
    item_line_start: usize,
    state: Step,
    stack: Vec<State>,
    /// Decoded pieces of a string that contained escapes.
    parts: Vec<u8>,
    /// Where to return after an escape sequence.
    string_state: State,
    items: VecDeque<Item>,
}

impl<'a> Lexer<'a> {
    /// Creates a lexer positioned at the start of `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Lexer {
            input,
            start: 0,
            pos: 0,
            width: 0,
            line: 1,
            line_start: 0,
            item_line_start: 0,
            state: Some(State::Top),
            stack: Vec::new(),
            parts: Vec::new(),
            string_state: State::String,
            items: VecDeque::new(),
        }
    }

    /// Returns the next item. After an `Error` or `Eof` item every further
    /// call returns `Eof`.
    pub(crate) fn next_item(&mut self) -> Item {
        loop {
            if let Some(item) = self.items.pop_front() {
                return item;
            }
            match self.state {
                Some(state) => self.state = self.run(state),
                None => {
                    return Item {
                        kind: ItemKind::Eof,
                        text: Vec::new(),
                        line: self.line,
                        pos: 0,
                    }
                }
            }
        }
    }

    fn run(&mut self, state: State) -> Step {
        match state {
            State::Top => self.top(),
            State::TopValueEnd => self.top_value_end(),
            State::KeyStart => self.key_start(),
            State::DubQuotedKey => self.quoted_key('"'),
            State::QuotedKey => self.quoted_key('\''),
            State::Key => self.key(),
            State::KeyEnd => self.key_end(),
            State::IncludeStart => self.include_start(),
            State::Include => self.include(),
            State::IncludeQuotedString => self.include_quoted('\''),
            State::IncludeDubQuotedString => self.include_quoted('"'),
            State::IncludeString => self.include_string(),
            State::Value => self.value(),
            State::ArrayValue => self.array_value(),
            State::ArrayValueEnd => self.array_value_end(),
            State::ArrayEnd => self.close(ItemKind::ArrayEnd),
            State::MapKeyStart => self.map_key_start(),
            State::MapQuotedKey => self.map_quoted_key('\''),
            State::MapDubQuotedKey => self.map_quoted_key('"'),
            State::MapKey => self.map_key(),
            State::MapKeyEnd => self.map_key_end(),
            State::MapValue => self.map_value(),
            State::MapValueEnd => self.map_value_end(),
            State::MapEnd => self.close(ItemKind::MapEnd),
            State::QuotedString => self.quoted_string(),
            State::DubQuotedString => self.dub_quoted_string(),
            State::String => self.string(),
            State::Block => self.block(),
            State::StringEscape => self.string_escape(),
            State::StringBinary => self.string_binary(),
            State::NumberOrDateOrStringOrIp => self.number_or_date(),
            State::ConvenientNumber => self.convenient_number(),
            State::DateAfterYear => self.date_after_year(),
            State::NegNumberStart => self.neg_number_start(),
            State::NegNumber => self.neg_number(),
            State::FloatStart => self.float_start(),
            State::Float => self.float(),
            State::IpAddr => self.ip_addr(),
            State::Comment => self.comment(),
        }
    }

    // ----- reading primitives -------------------------------------------

    /// Reads one rune; returns [`EOF`] (width 0) at the end of input.
    fn next(&mut self) -> char {
        let Some(rest) = self.input.get(self.pos..).filter(|r| !r.is_empty()) else {
            self.width = 0;
            return EOF;
        };
        if rest[0] == b'\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        let (c, width) = decode_rune(rest);
        self.width = width;
        self.pos += width;
        c
    }

    /// Steps back over the last rune read (by its width; may be repeated,
    /// always by the same width, as the reference does).
    fn backup(&mut self) {
        self.pos = self.pos.saturating_sub(self.width);
        if self.input.get(self.pos) == Some(&b'\n') {
            self.line = self.line.saturating_sub(1);
        }
    }

    /// Returns the next rune without consuming it.
    fn peek(&mut self) -> char {
        let c = self.next();
        self.backup();
        c
    }

    /// Drops the pending input.
    fn ignore(&mut self) {
        self.start = self.pos;
        self.item_line_start = self.line_start;
    }

    /// Emits the pending input (prefixed by decoded escape parts) as an item.
    fn emit(&mut self, kind: ItemKind) {
        let mut text = std::mem::take(&mut self.parts);
        text.extend_from_slice(self.input.get(self.start..self.pos).unwrap_or_default());
        let pos = self
            .pos
            .saturating_sub(self.item_line_start)
            .saturating_sub(text.len());
        self.items.push_back(Item {
            kind,
            text,
            line: self.line,
            pos,
        });
        self.ignore();
    }

    /// Emits an error item and stops lexing.
    fn error(&mut self, message: String) -> Step {
        self.items.push_back(Item {
            kind: ItemKind::Error,
            text: message.into_bytes(),
            line: self.line,
            pos: self.pos.saturating_sub(self.line_start),
        });
        None
    }

    /// Reports "Unexpected EOF." when a token was started, else ends cleanly.
    fn eof_or_unexpected(&mut self) -> Step {
        if self.pos > self.start {
            return self.error("Unexpected EOF.".to_string());
        }
        self.emit(ItemKind::Eof);
        None
    }

    fn push(&mut self, state: State) {
        self.stack.push(state);
    }

    fn pop(&mut self) -> Step {
        match self.stack.pop() {
            Some(state) => Some(state),
            None => self.error("BUG in lexer: no states to pop.".to_string()),
        }
    }

    /// Starts a comment that returns to `back` at the end of the line.
    fn comment_then(&mut self, back: State) -> Step {
        self.push(back);
        self.ignore();
        Some(State::Comment)
    }

    /// Handles a `/` just read: `//` starts a comment returning to `back`,
    /// otherwise the second rune is put back and `None` is returned so the
    /// caller can apply the reference's fall-through behaviour.
    fn slash_comment(&mut self, back: State) -> Option<Step> {
        if self.next() == '/' {
            return Some(self.comment_then(back));
        }
        self.backup();
        None
    }

    /// The text of the pending token.
    fn pending(&self) -> &[u8] {
        self.input.get(self.start..self.pos).unwrap_or_default()
    }

    /// Whether a number lexed now is an element of an array (so `]` ends it).
    fn in_array_value(&self) -> bool {
        self.stack.last() == Some(&State::ArrayValueEnd)
    }

    /// Whether `c` ends an integer. Beyond the reference set, `]` ends an
    /// integer inside an array so that `[1,2]` lexes as two integers
    /// (config.md §4.3: 2.9 would glue the `]` onto a string).
    fn ends_integer(&self, c: char) -> bool {
        is_newline(c)
            || c == EOF
            || c == '}'
            || c == ';'
            || c == ','
            || is_blank(c)
            || is_digit(c)
            || (c == ']' && self.in_array_value())
    }

    // ----- top level ----------------------------------------------------

    fn top(&mut self) -> Step {
        let r = self.next();
        if is_space(r) || r == '{' {
            self.ignore();
            return Some(State::Top);
        }
        match r {
            '#' => self.comment_then(State::Top),
            '/' => self
                .slash_comment(State::Top)
                .unwrap_or_else(|| self.eof_or_unexpected()),
            EOF => self.eof_or_unexpected(),
            _ => {
                self.backup();
                self.push(State::TopValueEnd);
                Some(State::KeyStart)
            }
        }
    }

    fn top_value_end(&mut self) -> Step {
        let r = self.next();
        match r {
            '#' => self.comment_then(State::Top),
            '/' => self
                .slash_comment(State::Top)
                .unwrap_or(Some(State::TopValueEnd)),
            ' ' | '\t' => Some(State::TopValueEnd),
            '\n' | '\r' | EOF | ';' | ',' | '}' => {
                self.ignore();
                Some(State::Top)
            }
            _ => self.error(format!(
                "Expected a top-level value to end with a new line, comment or EOF, \
                 but got '{}' instead.",
                escape_special(r)
            )),
        }
    }

    // ----- keys -----------------------------------------------------------

    fn key_start(&mut self) -> Step {
        let r = self.peek();
        if is_key_separator(r) {
            return self.error(format!("Unexpected key separator '{r}'"));
        }
        let next = match r {
            c if is_space(c) => State::KeyStart,
            '"' => State::DubQuotedKey,
            '\'' => State::QuotedKey,
            _ => {
                self.ignore();
                self.next();
                return Some(State::Key);
            }
        };
        self.next();
        self.ignore();
        Some(next)
    }

    fn quoted_key(&mut self, quote: char) -> Step {
        let r = self.peek();
        if r == quote {
            self.emit(ItemKind::Key);
            self.next();
            self.ignore();
            return Some(State::KeyEnd);
        }
        if r == EOF {
            return self.eof_or_unexpected();
        }
        self.next();
        Some(if quote == '"' {
            State::DubQuotedKey
        } else {
            State::QuotedKey
        })
    }

    fn key(&mut self) -> Step {
        let r = self.peek();
        if is_space(r) {
            return self.keyword_or_key(State::KeyEnd, None);
        }
        if is_key_separator(r) || r == EOF {
            self.emit(ItemKind::Key);
            return Some(State::KeyEnd);
        }
        self.next();
        Some(State::Key)
    }

    /// An unquoted key followed by whitespace: `include` starts an include,
    /// anything else is emitted as a key.
    fn keyword_or_key(&mut self, key_end: State, after_include: Option<State>) -> Step {
        if go_lower_eq(self.pending(), "include") {
            self.ignore();
            if let Some(state) = after_include {
                self.push(state);
            }
            return Some(State::IncludeStart);
        }
        self.emit(ItemKind::Key);
        Some(key_end)
    }

    fn key_end(&mut self) -> Step {
        let r = self.next();
        if is_space(r) {
            self.ignore();
            return Some(State::KeyEnd);
        }
        if is_key_separator(r) {
            self.ignore();
            return Some(State::Value);
        }
        if r == EOF {
            self.emit(ItemKind::Eof);
            return None;
        }
        self.backup();
        Some(State::Value)
    }

    // ----- include --------------------------------------------------------

    fn include_start(&mut self) -> Step {
        if is_blank(self.next()) {
            self.ignore();
            return Some(State::IncludeStart);
        }
        self.backup();
        Some(State::Include)
    }

    fn include(&mut self) -> Step {
        let r = self.next();
        let what = match r {
            '\'' => {
                self.ignore();
                return Some(State::IncludeQuotedString);
            }
            '"' => {
                self.ignore();
                return Some(State::IncludeDubQuotedString);
            }
            '[' => "start of an array",
            '{' => "start of a map",
            '(' => "start of a block",
            '\\' => "escape sequence",
            c if is_digit(c) || c == '-' => "start of a number",
            c if is_newline(c) => "new line",
            _ => {
                self.backup();
                return Some(State::IncludeString);
            }
        };
        self.error(format!("Expected include value but found {what}"))
    }

    fn include_quoted(&mut self, quote: char) -> Step {
        let r = self.next();
        if r == quote {
            self.backup();
            self.emit(ItemKind::Include);
            self.next();
            self.ignore();
            return self.pop();
        }
        if r == EOF {
            let which = quote_kind(quote);
            return self.error(format!("Unexpected EOF in {which} include"));
        }
        Some(if quote == '"' {
            State::IncludeDubQuotedString
        } else {
            State::IncludeQuotedString
        })
    }

    fn include_string(&mut self) -> Step {
        let r = self.next();
        if is_newline(r) || r == EOF || r == ';' || r == '}' || is_blank(r) {
            self.backup();
            self.emit(ItemKind::Include);
            return self.pop();
        }
        if r == '\'' {
            self.backup();
            self.emit(ItemKind::Include);
            self.next();
            self.ignore();
            return self.pop();
        }
        Some(State::IncludeString)
    }

    // ----- values ---------------------------------------------------------

    fn value(&mut self) -> Step {
        let r = self.next();
        if is_blank(r) {
            self.ignore();
            return Some(State::Value);
        }
        match r {
            '[' => {
                self.ignore();
                self.emit(ItemKind::ArrayStart);
                Some(State::ArrayValue)
            }
            '{' => {
                self.ignore();
                self.emit(ItemKind::MapStart);
                Some(State::MapKeyStart)
            }
            '\'' => {
                self.ignore();
                Some(State::QuotedString)
            }
            '"' => {
                self.ignore();
                self.string_state = State::DubQuotedString;
                Some(State::DubQuotedString)
            }
            '-' => Some(State::NegNumberStart),
            '(' => {
                self.ignore();
                Some(State::Block)
            }
            c if is_digit(c) => Some(State::NumberOrDateOrStringOrIp),
            '.' => self.error("Floats must start with a digit".to_string()),
            c if is_newline(c) => self.error("Expected value but found new line".to_string()),
            _ => {
                self.backup();
                self.string_state = State::String;
                Some(State::String)
            }
        }
    }

    fn array_value(&mut self) -> Step {
        let r = self.next();
        if is_space(r) {
            self.ignore();
            return Some(State::ArrayValue);
        }
        match r {
            '#' => self.comment_then(State::ArrayValue),
            '/' => self
                .slash_comment(State::ArrayValue)
                .unwrap_or_else(|| self.unexpected_array_separator()),
            ',' => self.unexpected_array_separator(),
            ']' => Some(State::ArrayEnd),
            _ => {
                self.backup();
                self.push(State::ArrayValueEnd);
                Some(State::Value)
            }
        }
    }

    fn unexpected_array_separator(&mut self) -> Step {
        self.error("Unexpected array value terminator ','.".to_string())
    }

    fn array_value_end(&mut self) -> Step {
        let r = self.next();
        match r {
            ' ' | '\t' => {
                self.ignore();
                Some(State::ArrayValueEnd)
            }
            '#' => self.comment_then(State::ArrayValueEnd),
            '/' => self
                .slash_comment(State::ArrayValueEnd)
                .unwrap_or_else(|| self.skip_to(State::ArrayValue)),
            ',' | '\n' | '\r' => self.skip_to(State::ArrayValue),
            ']' => Some(State::ArrayEnd),
            _ => self.error(format!(
                "Expected an array value terminator \",\" or an array terminator \"]\", \
                 but got '{}' instead.",
                escape_special(r)
            )),
        }
    }

    /// Drops the pending input and continues in `state`.
    fn skip_to(&mut self, state: State) -> Step {
        self.ignore();
        Some(state)
    }

    /// Emits the end of an array or map and returns to the enclosing state.
    fn close(&mut self, kind: ItemKind) -> Step {
        self.ignore();
        self.emit(kind);
        self.pop()
    }

    // ----- maps -----------------------------------------------------------

    fn map_key_start(&mut self) -> Step {
        let r = self.peek();
        if is_key_separator(r) {
            return self.error(format!("Unexpected key separator '{r}'."));
        }
        if r == ']' {
            return self.error(format!("Unexpected array end '{r}' processing map."));
        }
        if is_space(r) {
            self.next();
            return self.skip_to(State::MapKeyStart);
        }
        match r {
            '}' => {
                self.next();
                return self.skip_to(State::MapEnd);
            }
            '#' => {
                self.next();
                return self.comment_then(State::MapKeyStart);
            }
            '/' => {
                self.next();
                if let Some(step) = self.slash_comment(State::MapKeyStart) {
                    return step;
                }
                // A lone '/' is dropped and the key starts after it.
            }
            '\'' => {
                self.next();
                return self.skip_to(State::MapQuotedKey);
            }
            '"' => {
                self.next();
                return self.skip_to(State::MapDubQuotedKey);
            }
            EOF => return self.error("Unexpected EOF processing map.".to_string()),
            _ => {}
        }
        self.ignore();
        self.next();
        Some(State::MapKey)
    }

    fn map_quoted_key(&mut self, quote: char) -> Step {
        let r = self.peek();
        if r == EOF {
            let which = quote_kind(quote);
            return self.error(format!("Unexpected EOF processing {which} map key."));
        }
        if r == quote {
            self.emit(ItemKind::Key);
            self.next();
            return self.skip_to(State::MapKeyEnd);
        }
        self.next();
        Some(if quote == '"' {
            State::MapDubQuotedKey
        } else {
            State::MapQuotedKey
        })
    }

    fn map_key(&mut self) -> Step {
        let r = self.peek();
        if r == EOF {
            return self.error("Unexpected EOF processing map key.".to_string());
        }
        if is_space(r) {
            return self.keyword_or_key(State::MapKeyEnd, Some(State::MapValueEnd));
        }
        if is_key_separator(r) {
            self.emit(ItemKind::Key);
            return Some(State::MapKeyEnd);
        }
        self.next();
        Some(State::MapKey)
    }

    fn map_key_end(&mut self) -> Step {
        let r = self.next();
        if is_space(r) {
            return self.skip_to(State::MapKeyEnd);
        }
        if is_key_separator(r) {
            return self.skip_to(State::MapValue);
        }
        self.backup();
        Some(State::MapValue)
    }

    fn map_value(&mut self) -> Step {
        let r = self.next();
        if is_space(r) {
            return self.skip_to(State::MapValue);
        }
        match r {
            ',' => self.error("Unexpected map value terminator \",\".".to_string()),
            '}' => self.skip_to(State::MapEnd),
            _ => {
                self.backup();
                self.push(State::MapValueEnd);
                Some(State::Value)
            }
        }
    }

    fn map_value_end(&mut self) -> Step {
        let r = self.next();
        match r {
            ' ' | '\t' => self.skip_to(State::MapValueEnd),
            '#' => self.comment_then(State::MapValueEnd),
            '/' => self
                .slash_comment(State::MapValueEnd)
                .unwrap_or_else(|| self.skip_to(State::MapKeyStart)),
            ';' | ',' | '\n' | '\r' => self.skip_to(State::MapKeyStart),
            '}' => self.skip_to(State::MapEnd),
            _ => self.error(format!(
                "Expected a map value terminator \",\" or a map terminator \"}}\", \
                 but got '{}' instead.",
                escape_special(r)
            )),
        }
    }

    // ----- strings --------------------------------------------------------

    fn quoted_string(&mut self) -> Step {
        let r = self.next();
        if r == '\'' {
            self.backup();
            self.emit(ItemKind::String);
            self.next();
            self.ignore();
            return self.pop();
        }
        if r == EOF {
            return self.eof_or_unexpected();
        }
        Some(State::QuotedString)
    }

    fn dub_quoted_string(&mut self) -> Step {
        let r = self.next();
        match r {
            '\\' => {
                self.add_current_part(1);
                Some(State::StringEscape)
            }
            '"' => {
                self.backup();
                self.emit(ItemKind::String);
                self.next();
                self.ignore();
                self.pop()
            }
            EOF => self.eof_or_unexpected(),
            _ => Some(State::DubQuotedString),
        }
    }

    /// An unquoted string, classified as bool, variable or string at its end.
    fn string(&mut self) -> Step {
        let r = self.next();
        if r == '\\' {
            self.add_current_part(1);
            return Some(State::StringEscape);
        }
        if is_newline(r) || r == EOF || matches!(r, ';' | ',' | ']' | '}') || is_blank(r) {
            self.backup();
            let kind = self.classify_unquoted();
            if kind == ItemKind::Variable {
                self.start += 1; // drop the '$'
            }
            self.emit(kind);
            return self.pop();
        }
        if r == '\'' {
            self.backup();
            self.emit(ItemKind::String);
            self.next();
            self.ignore();
            return self.pop();
        }
        Some(State::String)
    }

    fn classify_unquoted(&self) -> ItemKind {
        if !self.parts.is_empty() {
            ItemKind::String
        } else if BOOL_WORDS.iter().any(|w| go_lower_eq(self.pending(), w)) {
            ItemKind::Bool
        } else if self.input.get(self.start) == Some(&b'$') {
            ItemKind::Variable
        } else {
            ItemKind::String
        }
    }

    /// A `(` … `)` block: raw text up to a `)` alone on its line.
    fn block(&mut self) -> Step {
        let r = self.next();
        if r == EOF {
            return self.error("Unexpected EOF processing block.".to_string());
        }
        if r != ')' {
            return Some(State::Block);
        }
        // Look at the rune before ')': the block only ends on "\n)".
        self.backup();
        self.backup();
        if self.next() != '\n' {
            self.next();
            return Some(State::Block);
        }
        self.next();
        if matches!(self.next(), '\n' | EOF) {
            self.backup();
            self.backup();
            self.emit(ItemKind::String);
            self.next();
            self.ignore();
            return self.pop();
        }
        self.backup();
        Some(State::Block)
    }

    /// Saves the pending text minus its last `trim` bytes as a string part.
    fn add_current_part(&mut self, trim: usize) {
        let end = self.pos.saturating_sub(trim).max(self.start);
        self.parts
            .extend_from_slice(self.input.get(self.start..end).unwrap_or_default());
        self.start = self.pos;
    }

    /// Appends decoded bytes and resumes the string being lexed.
    fn add_part(&mut self, bytes: &[u8]) -> Step {
        self.parts.extend_from_slice(bytes);
        self.start = self.pos;
        Some(self.string_state)
    }

    fn string_escape(&mut self) -> Step {
        let r = self.next();
        match r {
            'x' => Some(State::StringBinary),
            't' => self.add_part(b"\t"),
            'n' => self.add_part(b"\n"),
            'r' => self.add_part(b"\r"),
            '"' => self.add_part(b"\""),
            '\\' => self.add_part(b"\\"),
            _ => self.error(format!(
                "Invalid escape character '{}'. Only the following escape characters \
                 are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                escape_special(r)
            )),
        }
    }

    /// `\xHH`: exactly two hex digits, read as the last two bytes consumed.
    fn string_binary(&mut self) -> Step {
        for _ in 0..2 {
            if is_newline(self.next()) {
                return self.error(
                    "Expected two hexadecimal digits after '\\x', but hit end of line".to_string(),
                );
            }
        }
        let digits = self
            .input
            .get(self.pos.saturating_sub(2)..self.pos)
            .unwrap_or_default();
        match decode_hex_pair(digits) {
            Some(byte) => self.add_part(&[byte]),
            None => {
                let shown = String::from_utf8_lossy(digits).into_owned();
                self.error(format!(
                    "Expected two hexadecimal digits after '\\x', but got '{shown}'"
                ))
            }
        }
    }

    // ----- numbers and dates ------------------------------------------------

    /// After a leading digit: integer, size integer, float, IP-like string,
    /// datetime, or a string that merely starts with a digit.
    fn number_or_date(&mut self) -> Step {
        let r = self.next();
        match r {
            '-' => {
                if self.pos.saturating_sub(self.start) != 5 {
                    return self.error("All ISO8601 dates must be in full Zulu form.".to_string());
                }
                Some(State::DateAfterYear)
            }
            c if is_digit(c) => Some(State::NumberOrDateOrStringOrIp),
            '.' => Some(State::FloatStart),
            c if is_size_suffix(c) => Some(State::ConvenientNumber),
            c if !self.ends_integer(c) => {
                self.string_state = State::String;
                Some(State::String)
            }
            _ => {
                self.backup();
                self.emit(ItemKind::Integer);
                self.pop()
            }
        }
    }

    /// After a size suffix letter: any run of `b`/`i`, then a terminator.
    fn convenient_number(&mut self) -> Step {
        let r = self.next();
        if matches!(r, 'b' | 'B' | 'i' | 'I') {
            return Some(State::ConvenientNumber);
        }
        self.backup();
        if self.ends_integer(r) {
            self.emit(ItemKind::Integer);
            return self.pop();
        }
        self.string_state = State::String;
        Some(State::String)
    }

    /// The rest of `YYYY-MM-DDTHH:MM:SSZ` after `YYYY-`.
    fn date_after_year(&mut self) -> Step {
        const FORMAT: &str = "00-00T00:00:00Z";
        for expected in FORMAT.chars() {
            let r = self.next();
            if expected == '0' {
                if !is_digit(r) {
                    return self.error(format!(
                        "Expected digit in ISO8601 datetime, but found '{}' instead.",
                        escape_special(r)
                    ));
                }
            } else if r != expected {
                return self.error(format!(
                    "Expected '{expected}' in ISO8601 datetime, but found '{}' instead.",
                    escape_special(r)
                ));
            }
        }
        self.emit(ItemKind::Datetime);
        self.pop()
    }

    fn neg_number_start(&mut self) -> Step {
        let r = self.next();
        if is_digit(r) {
            return Some(State::NegNumber);
        }
        if r == '.' {
            return self.error("Floats must start with a digit, not '.'.".to_string());
        }
        self.error(format!("Expected a digit but got '{}'.", escape_special(r)))
    }

    fn neg_number(&mut self) -> Step {
        let r = self.next();
        match r {
            c if is_digit(c) => Some(State::NegNumber),
            '.' => Some(State::FloatStart),
            c if is_size_suffix(c) => Some(State::ConvenientNumber),
            _ => {
                self.backup();
                self.emit(ItemKind::Integer);
                self.pop()
            }
        }
    }

    fn float_start(&mut self) -> Step {
        let r = self.next();
        if is_digit(r) {
            return Some(State::Float);
        }
        self.error(format!(
            "Floats must have a digit after the '.', but got '{}' instead.",
            escape_special(r)
        ))
    }

    fn float(&mut self) -> Step {
        let r = self.next();
        if is_digit(r) {
            return Some(State::Float);
        }
        if r == '.' {
            return Some(State::IpAddr);
        }
        self.backup();
        self.emit(ItemKind::Float);
        self.pop()
    }

    /// A second `.` after a float: an unquoted IP-like string (`1.2.3.4:80`).
    fn ip_addr(&mut self) -> Step {
        let r = self.next();
        if is_digit(r) || matches!(r, '.' | ':' | '-') {
            return Some(State::IpAddr);
        }
        self.backup();
        self.emit(ItemKind::String);
        self.pop()
    }

    // ----- comments ---------------------------------------------------------

    fn comment(&mut self) -> Step {
        let r = self.peek();
        if is_newline(r) || r == EOF {
            self.ignore();
            return self.pop();
        }
        self.next();
        Some(State::Comment)
    }
}

/// Unquoted words lexed as booleans (compared case-insensitively).
const BOOL_WORDS: [&str; 6] = ["true", "false", "yes", "no", "on", "off"];

/// How the reference's messages name a quote character.
fn quote_kind(quote: char) -> &'static str {
    if quote == '"' {
        "double quoted"
    } else {
        "quoted"
    }
}

fn is_key_separator(c: char) -> bool {
    c == '=' || c == ':'
}

fn is_size_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

/// Decodes two ASCII hex digits into a byte.
fn decode_hex_pair(digits: &[u8]) -> Option<u8> {
    let [hi, lo] = digits else {
        return None;
    };
    let hex = |b: &u8| (*b as char).to_digit(16);
    Some((hex(hi)? * 16 + hex(lo)?) as u8)
}

#[cfg(test)]
mod tests {
    //! Item-level tests, most ported from the reference's `conf/lex_test.go`
    //! (same inputs, same expected lines and positions).

    use super::ItemKind::{self, *};
    use super::Lexer;

    /// `String` is an item kind here.
    type Text = std::string::String;

    type Expected<'a> = &'a [(ItemKind, &'a str, usize, usize)];

    /// All items up to (excluding) EOF, or up to and including an error.
    fn lex(input: &str) -> Vec<(ItemKind, Text, usize, usize)> {
        let mut lexer = Lexer::new(input.as_bytes());
        let mut items = Vec::new();
        loop {
            let item = lexer.next_item();
            if item.kind == Eof {
                return items;
            }
            let stop = item.kind == Error;
            let text = Text::from_utf8_lossy(&item.text).into_owned();
            items.push((item.kind, text, item.line, item.pos));
            if stop {
                return items;
            }
        }
    }

    #[track_caller]
    fn check(input: &str, expected: Expected<'_>) {
        let want: Vec<_> = expected
            .iter()
            .map(|&(kind, text, line, pos)| (kind, text.to_string(), line, pos))
            .collect();
        assert_eq!(lex(input), want, "input: {input:?}");
    }

    /// Only the error message of a failing input.
    #[track_caller]
    fn error_of(input: &str) -> (Text, usize) {
        let items = lex(input);
        match items.last() {
            Some((Error, text, line, _)) => (text.clone(), *line),
            _ => panic!("no error for {input:?}: {items:?}"),
        }
    }

    #[test]
    fn plain_key_at_eof() {
        check("foo", &[(Key, "foo", 1, 0)]);
    }

    #[test]
    fn key_separators() {
        for input in ["foo = \"bar\"", "foo = 'bar'"] {
            check(input, &[(Key, "foo", 1, 0), (String, "bar", 1, 7)]);
        }
        check(
            "foo='bar'\r\n",
            &[(Key, "foo", 1, 0), (String, "bar", 1, 5)],
        );
        check(
            "foo=\t'bar'\t",
            &[(Key, "foo", 1, 0), (String, "bar", 1, 6)],
        );
        check("foo : 123", &[(Key, "foo", 1, 0), (Integer, "123", 1, 6)]);
        check("foo:123", &[(Key, "foo", 1, 0), (Integer, "123", 1, 4)]);
        check(
            "foo:  123\r\n",
            &[(Key, "foo", 1, 0), (Integer, "123", 1, 6)],
        );
        check("foo 123", &[(Key, "foo", 1, 0), (Integer, "123", 1, 4)]);
        check("foo\t123", &[(Key, "foo", 1, 0), (Integer, "123", 1, 4)]);
        check(
            "foo\t\t123\r\n",
            &[(Key, "foo", 1, 0), (Integer, "123", 1, 5)],
        );
    }

    #[test]
    fn quoted_keys() {
        for input in ["'foo' : 123", "\"foo\" : 123"] {
            check(input, &[(Key, "foo", 1, 1), (Integer, "123", 1, 8)]);
        }
        for input in ["' foo' : 123", "\" foo\" : 123"] {
            check(input, &[(Key, " foo", 1, 1), (Integer, "123", 1, 9)]);
        }
        // No escapes in keys.
        check("'a\\tb' = 1", &[(Key, "a\\tb", 1, 1), (Integer, "1", 1, 9)]);
    }

    #[test]
    fn raw_and_escaped_strings() {
        check(
            "foo = 'bar\\r\\n  \\t'",
            &[(Key, "foo", 1, 0), (String, "bar\\r\\n  \\t", 1, 7)],
        );
        check("foo = bar", &[(Key, "foo", 1, 0), (String, "bar", 1, 6)]);
        check("foo = bar' ", &[(Key, "foo", 1, 0), (String, "bar", 1, 6)]);
        check("foo = \\x65", &[(Key, "foo", 1, 0), (String, "e", 1, 9)]);
        check(
            r#"foo = "\\end""#,
            &[(Key, "foo", 1, 0), (String, "\\end", 1, 8)],
        );
        check(
            r#"foo = "start\\""#,
            &[(Key, "foo", 1, 0), (String, "start\\", 1, 8)],
        );
        check(
            r"foo = \x45\x71",
            &[(Key, "foo", 1, 0), (String, "Eq", 1, 12)],
        );
        check(
            r"foo = start\x45\x71",
            &[(Key, "foo", 1, 0), (String, "startEq", 1, 12)],
        );
        check(
            r"foo = start\x7Cend",
            &[(Key, "foo", 1, 0), (String, "start|end", 1, 9)],
        );
        check(
            r"foo = \x3c\x3eend",
            &[(Key, "foo", 1, 0), (String, "<>end", 1, 12)],
        );
        check(
            r"foo = \x3cmiddle\x3E",
            &[(Key, "foo", 1, 0), (String, "<middle>", 1, 12)],
        );
        check(
            r"foo = \\true",
            &[(Key, "foo", 1, 0), (String, "\\true", 1, 7)],
        );
        check(
            r"foo = \\$var",
            &[(Key, "foo", 1, 0), (String, "\\$var", 1, 7)],
        );
        check(r#"foo = """#, &[(Key, "foo", 1, 0), (String, "", 1, 7)]);
        check("foo = ''", &[(Key, "foo", 1, 0), (String, "", 1, 7)]);
    }

    #[test]
    fn latin1_escape_keeps_the_raw_byte() {
        let mut lexer = Lexer::new(b"foo = \\xe9");
        assert_eq!(lexer.next_item().kind, Key);
        let value = lexer.next_item();
        assert_eq!((value.kind, value.text, value.pos), (String, vec![0xe9], 9));
    }

    #[test]
    fn escapes_in_unquoted_values() {
        let input = "\nfoo  = \\t\nbar  = \\r\nbaz  = \\n\nq    = \\\"\nbs   = \\\\\n";
        check(
            input,
            &[
                (Key, "foo", 2, 1),
                (String, "\t", 2, 9),
                (Key, "bar", 3, 1),
                (String, "\r", 3, 9),
                (Key, "baz", 4, 1),
                (String, "\n", 4, 9),
                (Key, "q", 5, 1),
                (String, "\"", 5, 9),
                (Key, "bs", 6, 1),
                (String, "\\", 6, 9),
            ],
        );
    }

    #[test]
    fn strings_starting_with_digits() {
        for input in ["foo = 3xyz", "foo = 3xyz,", "foo = 3xyz;"] {
            check(input, &[(Key, "foo", 1, 0), (String, "3xyz", 1, 6)]);
        }
        check(
            "\n        map {\n          foo = 3xyz}\n        ",
            &[
                (Key, "map", 2, 9),
                (MapStart, "", 2, 14),
                (Key, "foo", 3, 11),
                (String, "3xyz", 3, 17),
                (MapEnd, "", 3, 22),
            ],
        );
        check(
            "\n        map {\n          foo = 3xyz,\n          bar = 4wqs\n        }\n        ",
            &[
                (Key, "map", 2, 9),
                (MapStart, "", 2, 14),
                (Key, "foo", 3, 11),
                (String, "3xyz", 3, 17),
                (Key, "bar", 4, 11),
                (String, "4wqs", 4, 17),
                (MapEnd, "", 5, 10),
            ],
        );
    }

    #[test]
    fn numbers() {
        check("foo = 123", &[(Key, "foo", 1, 0), (Integer, "123", 1, 6)]);
        check("foo=123\r\n", &[(Key, "foo", 1, 0), (Integer, "123", 1, 4)]);
        check("foo = -123", &[(Key, "foo", 1, 0), (Integer, "-123", 1, 6)]);
        check(
            "foo=-123\r\n",
            &[(Key, "foo", 1, 0), (Integer, "-123", 1, 4)],
        );
        check("foo = 22.2", &[(Key, "foo", 1, 0), (Float, "22.2", 1, 6)]);
        check("foo=22.2\r\n", &[(Key, "foo", 1, 0), (Float, "22.2", 1, 4)]);
        check("foo = -0.5", &[(Key, "foo", 1, 0), (Float, "-0.5", 1, 6)]);
    }

    #[test]
    fn size_suffixed_integers() {
        for text in [
            "1k", "1K", "1m", "1M", "1g", "1G", "1MB", "1Gb", "-1m", "7PiB", "1kbb",
        ] {
            let input = format!("foo = {text}");
            check(&input, &[(Key, "foo", 1, 0), (Integer, text, 1, 6)]);
        }
        check(
            "foo = -1GB ",
            &[(Key, "foo", 1, 0), (Integer, "-1GB", 1, 6)],
        );
        check("foo = 1Ghz", &[(Key, "foo", 1, 0), (String, "1Ghz", 1, 6)]);
        check("foo = 2Pie", &[(Key, "foo", 1, 0), (String, "2Pie", 1, 6)]);
        check("foo = 3Mbs,", &[(Key, "foo", 1, 0), (String, "3Mbs", 1, 6)]);
        check(
            "foo = 4Gb, bar = 5Gø",
            &[
                (Key, "foo", 1, 0),
                (Integer, "4Gb", 1, 6),
                (Key, "bar", 1, 11),
                (String, "5Gø", 1, 17),
            ],
        );
    }

    #[test]
    fn ip_like_strings() {
        let cases = [
            ("listen: 127.0.0.1:4222", "127.0.0.1:4222", 8),
            ("listen: 127.0.0.1", "127.0.0.1", 8),
            ("listen: apcera.me:80", "apcera.me:80", 8),
            ("listen: nats.io:-1", "nats.io:-1", 8),
            ("listen: :-1", ":-1", 8),
            ("listen = :80", ":80", 9),
        ];
        for (input, text, pos) in cases {
            check(input, &[(Key, "listen", 1, 0), (String, text, 1, pos)]);
        }
        check(
            "listen: -1",
            &[(Key, "listen", 1, 0), (Integer, "-1", 1, 8)],
        );
        check(
            "listen = [localhost:4222, localhost:4333]",
            &[
                (Key, "listen", 1, 0),
                (ArrayStart, "", 1, 10),
                (String, "localhost:4222", 1, 10),
                (String, "localhost:4333", 1, 26),
                (ArrayEnd, "", 1, 41),
            ],
        );
    }

    #[test]
    fn booleans_variables_and_dates() {
        check("foo = true", &[(Key, "foo", 1, 0), (Bool, "true", 1, 6)]);
        check("foo=true\r\n", &[(Key, "foo", 1, 0), (Bool, "true", 1, 4)]);
        check("foo = OfF", &[(Key, "foo", 1, 0), (Bool, "OfF", 1, 6)]);
        check("foo = $bar", &[(Key, "foo", 1, 0), (Variable, "bar", 1, 7)]);
        check("foo =$bar", &[(Key, "foo", 1, 0), (Variable, "bar", 1, 6)]);
        check("foo $bar", &[(Key, "foo", 1, 0), (Variable, "bar", 1, 5)]);
        check(
            "foo = 2016-05-04T18:53:41Z",
            &[(Key, "foo", 1, 0), (Datetime, "2016-05-04T18:53:41Z", 1, 6)],
        );
    }

    #[test]
    fn comments() {
        check("# This is a comment", &[]);
        check("// This is a comment\r\n", &[]);
        check(
            "foo = 123 // This is a comment",
            &[(Key, "foo", 1, 0), (Integer, "123", 1, 6)],
        );
        check(
            "foo=123    # This is a comment",
            &[(Key, "foo", 1, 0), (Integer, "123", 1, 4)],
        );
    }

    #[test]
    fn arrays() {
        check(
            "foo = [1, 2, 3, 'bar']",
            &[
                (Key, "foo", 1, 0),
                (ArrayStart, "", 1, 7),
                (Integer, "1", 1, 7),
                (Integer, "2", 1, 10),
                (Integer, "3", 1, 13),
                (String, "bar", 1, 17),
                (ArrayEnd, "", 1, 22),
            ],
        );
        check(
            "foo = [1,2,3,'bar']",
            &[
                (Key, "foo", 1, 0),
                (ArrayStart, "", 1, 7),
                (Integer, "1", 1, 7),
                (Integer, "2", 1, 9),
                (Integer, "3", 1, 11),
                (String, "bar", 1, 14),
                (ArrayEnd, "", 1, 19),
            ],
        );
    }

    #[test]
    fn integer_before_closing_bracket_in_array() {
        // 2.9 glues the ']' onto a string here; natsd ends the integer.
        check(
            "a = [1,2k]",
            &[
                (Key, "a", 1, 0),
                (ArrayStart, "", 1, 5),
                (Integer, "1", 1, 5),
                (Integer, "2k", 1, 7),
                (ArrayEnd, "", 1, 10),
            ],
        );
        // Outside arrays the reference behaviour is kept.
        check("a = 1]", &[(Key, "a", 1, 0), (String, "1]", 1, 4)]);
    }

    #[test]
    fn multiline_arrays() {
        let input = "\n# top level comment\nfoo = [\n 1, # One\n 2, // Two\n 3 # Three\n 'bar'     ,\n \"bar\"\n]\n";
        check(
            input,
            &[
                (Key, "foo", 3, 1),
                (ArrayStart, "", 3, 8),
                (Integer, "1", 4, 2),
                (Integer, "2", 5, 2),
                (Integer, "3", 6, 2),
                (String, "bar", 7, 3),
                (String, "bar", 8, 3),
                (ArrayEnd, "", 9, 2),
            ],
        );
        let no_separators = "\nfoo = [\n 1 // foo\n 2\n 3\n 'bar'\n \"bar\"\n]\n";
        check(
            no_separators,
            &[
                (Key, "foo", 2, 1),
                (ArrayStart, "", 2, 8),
                (Integer, "1", 3, 2),
                (Integer, "2", 4, 2),
                (Integer, "3", 5, 2),
                (String, "bar", 6, 3),
                (String, "bar", 7, 3),
                (ArrayEnd, "", 8, 2),
            ],
        );
    }

    #[test]
    fn maps() {
        check(
            "foo = {ip='127.0.0.1', port = 4242}",
            &[
                (Key, "foo", 1, 0),
                (MapStart, "", 1, 7),
                (Key, "ip", 1, 7),
                (String, "127.0.0.1", 1, 11),
                (Key, "port", 1, 23),
                (Integer, "4242", 1, 30),
                (MapEnd, "", 1, 35),
            ],
        );
        check(
            "\nfoo = {\n  ip = '127.0.0.1' # the IP\n  port= 4242 // the port\n}\n",
            &[
                (Key, "foo", 2, 1),
                (MapStart, "", 2, 8),
                (Key, "ip", 3, 3),
                (String, "127.0.0.1", 3, 9),
                (Key, "port", 4, 3),
                (Integer, "4242", 4, 9),
                (MapEnd, "", 5, 2),
            ],
        );
        check(
            "\nfoo  {\n  host  {\n    ip = '127.0.0.1'\n    port= 4242\n  }\n}\n",
            &[
                (Key, "foo", 2, 1),
                (MapStart, "", 2, 7),
                (Key, "host", 3, 3),
                (MapStart, "", 3, 10),
                (Key, "ip", 4, 5),
                (String, "127.0.0.1", 4, 11),
                (Key, "port", 5, 5),
                (Integer, "4242", 5, 11),
                (MapEnd, "", 6, 4),
                (MapEnd, "", 7, 2),
            ],
        );
        for input in ["foo = {'bar' = 4242}", "foo = {\"bar\" = 4242}"] {
            check(
                input,
                &[
                    (Key, "foo", 1, 0),
                    (MapStart, "", 1, 7),
                    (Key, "bar", 1, 8),
                    (Integer, "4242", 1, 15),
                    (MapEnd, "", 1, 20),
                ],
            );
        }
    }

    #[test]
    fn semicolons_and_commas() {
        check(
            "foo='1'; bar=2.2; baz=true;",
            &[
                (Key, "foo", 1, 0),
                (String, "1", 1, 5),
                (Key, "bar", 1, 9),
                (Float, "2.2", 1, 13),
                (Key, "baz", 1, 18),
                (Bool, "true", 1, 22),
            ],
        );
        check(
            "\nmap {\n id = 1;\n}\n",
            &[
                (Key, "map", 2, 1),
                (MapStart, "", 2, 6),
                (Key, "id", 3, 2),
                (Integer, "1", 3, 7),
                (MapEnd, "", 4, 2),
            ],
        );
    }

    #[test]
    fn block_strings() {
        check(
            "\nnumbers (\n1234567890\n)\n",
            &[(Key, "numbers", 2, 1), (String, "\n1234567890\n", 4, 10)],
        );
        // A NUL after ')' ends the block like a newline.
        check(
            "\nnumbers (\n1234567890\n)\0",
            &[(Key, "numbers", 2, 1), (String, "\n1234567890\n", 4, 10)],
        );
        check(
            "\nnumbers (\n  12(34)56\n  (\n    7890\n  )\n)\n",
            &[
                (Key, "numbers", 2, 1),
                (String, "\n  12(34)56\n  (\n    7890\n  )\n", 7, 10),
            ],
        );
        // At the real end of input the ')' stays in the value (✓ref: server
        // name printed with the trailing ")").
        check(
            "a (\nfoo\n)",
            &[(Key, "a", 1, 0), (String, "\nfoo\n)", 3, 3)],
        );
    }

    #[test]
    fn array_of_maps() {
        let input = "\nauthorization {\n    users = [\n      {user: alice, password: foo}\n      {user: bob,   password: bar}\n    ]\n    timeout: 0.5\n}\n";
        check(
            input,
            &[
                (Key, "authorization", 2, 1),
                (MapStart, "", 2, 16),
                (Key, "users", 3, 5),
                (ArrayStart, "", 3, 14),
                (MapStart, "", 4, 8),
                (Key, "user", 4, 8),
                (String, "alice", 4, 14),
                (Key, "password", 4, 21),
                (String, "foo", 4, 31),
                (MapEnd, "", 4, 35),
                (MapStart, "", 5, 8),
                (Key, "user", 5, 8),
                (String, "bob", 5, 14),
                (Key, "password", 5, 21),
                (String, "bar", 5, 31),
                (MapEnd, "", 5, 35),
                (ArrayEnd, "", 6, 6),
                (Key, "timeout", 7, 5),
                (Float, "0.5", 7, 14),
                (MapEnd, "", 8, 2),
            ],
        );
    }

    #[test]
    fn includes() {
        for input in ["include \"users.conf\"", "include 'users.conf'"] {
            check(input, &[(Include, "users.conf", 1, 9)]);
        }
        check("include users.conf", &[(Include, "users.conf", 1, 8)]);
        check("INCLUDE users.conf", &[(Include, "users.conf", 1, 8)]);
        check(
            "foo { include users.conf }",
            &[
                (Key, "foo", 1, 0),
                (MapStart, "", 1, 5),
                (Include, "users.conf", 1, 14),
                (MapEnd, "", 1, 26),
            ],
        );
        check(
            "foo {include users.conf}",
            &[
                (Key, "foo", 1, 0),
                (MapStart, "", 1, 5),
                (Include, "users.conf", 1, 13),
                (MapEnd, "", 1, 24),
            ],
        );
        check(
            "foo { include \"users.conf\"}",
            &[
                (Key, "foo", 1, 0),
                (MapStart, "", 1, 5),
                (Include, "users.conf", 1, 15),
                (MapEnd, "", 1, 27),
            ],
        );
        // Only a separator right after the word makes it an ordinary key;
        // `include = x` includes a file named "=" (✓ref).
        check("include=x", &[(Key, "include", 1, 0), (String, "x", 1, 8)]);
        check("include: x", &[(Key, "include", 1, 0), (String, "x", 1, 9)]);
        assert_eq!(lex("include = x")[0], (Include, "=".into(), 1, 8));
    }

    #[test]
    fn json_compatibility() {
        check(
            "{\"http_port\": 8224,\"port\": 4224}\n",
            &[
                (Key, "http_port", 1, 2),
                (Integer, "8224", 1, 14),
                (Key, "port", 1, 20),
                (Integer, "4224", 1, 27),
            ],
        );
        // A '}' on its own line is lexed as a key (tolerated by the parser).
        check(
            "{\n  \"port\": 4225\n}\n",
            &[
                (Key, "port", 2, 4),
                (Integer, "4225", 2, 11),
                (Key, "}", 3, 1),
            ],
        );
        check(
            "{\"a\": 1,\"c\": {\"p\": 6222,\"r\": [\"x\",\"y\"]}}\n",
            &[
                (Key, "a", 1, 2),
                (Integer, "1", 1, 6),
                (Key, "c", 1, 9),
                (MapStart, "", 1, 14),
                (Key, "p", 1, 15),
                (Integer, "6222", 1, 19),
                (Key, "r", 1, 25),
                (ArrayStart, "", 1, 30),
                (String, "x", 1, 31),
                (String, "y", 1, 35),
                (ArrayEnd, "", 1, 38),
                (MapEnd, "", 1, 39),
            ],
        );
    }

    #[test]
    fn dangling_quotes_and_brackets() {
        let input = "\nfoo = \"\nlisten: \"\n\nhttp: localhost:8222\n\n\"\n";
        check(
            input,
            &[
                (Key, "foo", 2, 1),
                (String, "\nlisten: ", 3, 8),
                (Key, "http", 5, 1),
                (String, "localhost:8222", 5, 7),
                (Error, "Unexpected EOF.", 8, 1),
            ],
        );
        assert_eq!(
            error_of("\nlisten: 'localhost:4242\n\nhttp: localhost:8222\n"),
            ("Unexpected EOF.".to_string(), 5)
        );
        assert_eq!(
            error_of("\nlisten = 4222\n\ncluster = {\n\n  foo = bar\n\n"),
            ("Unexpected EOF processing map.".to_string(), 8)
        );
        assert_eq!(
            error_of("\nlisten = 4222\n\nquote = (\n\n  foo = bar\n\n"),
            ("Unexpected EOF processing block.".to_string(), 8)
        );
    }

    #[test]
    fn error_lines_and_messages() {
        let hex_eol = "Expected two hexadecimal digits after '\\x', but hit end of line";
        assert_eq!(error_of("foo = xyz\\x\n"), (hex_eol.to_string(), 2));
        assert_eq!(error_of("foo = xyz\\xF\n"), (hex_eol.to_string(), 2));
        assert_eq!(
            error_of(r#"foo = "[\x]""#).0,
            "Expected two hexadecimal digits after '\\x', but got ']\"'"
        );
        assert_eq!(
            error_of(r#"foo = "[\xe]""#).0,
            "Expected two hexadecimal digits after '\\x', but got 'e]'"
        );
        assert_eq!(error_of("foo = .2").0, "Floats must start with a digit");
        assert_eq!(error_of(" :foo = 22").0, "Unexpected key separator ':'");
        assert_eq!(
            error_of("foo = \\y").0,
            "Invalid escape character 'y'. Only the following escape characters are \
             allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."
        );
    }

    #[test]
    fn nul_reads_as_end_of_input() {
        // A NUL at the start of a top-level entry is an unexpected EOF.
        assert_eq!(error_of("a = 1\n\0rest").0, "Unexpected EOF.");
        // After a key and separator a NUL ends the value like EOF would.
        assert_eq!(
            error_of("a { b = 1\0 }").0,
            "Expected a map value terminator \",\" or a map terminator \"}\", but got '\0' instead."
        );
    }

    #[test]
    fn lone_slash_quirks() {
        // Inside a map a lone '/' before a key is dropped.
        check(
            "a { /x = 1 }",
            &[
                (Key, "a", 1, 0),
                (MapStart, "", 1, 3),
                (Key, "x", 1, 5),
                (Integer, "1", 1, 9),
                (MapEnd, "", 1, 12),
            ],
        );
        // After a top-level value it is skipped.
        check("a = 1 / ", &[(Key, "a", 1, 0), (Integer, "1", 1, 4)]);
    }

    #[test]
    fn lexer_stops_after_an_error() {
        let mut lexer = Lexer::new(b"= 1\nb = 2");
        assert_eq!(lexer.next_item().kind, Error);
        assert_eq!(lexer.next_item().kind, Eof);
        assert_eq!(lexer.next_item().kind, Eof);
    }
}
