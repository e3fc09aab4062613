//! What can go wrong with an nft command, and where in its text.

use core::fmt;

/// A byte range of the command text: the word an error is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Span {
    /// First byte.
    pub start: u16,
    /// Length in bytes.
    pub len: u16,
}

impl Span {
    /// The span of `start..end` (clamped to `u16`).
    pub fn new(start: usize, end: usize) -> Span {
        let s = u16::try_from(start).unwrap_or(u16::MAX);
        let e = u16::try_from(end).unwrap_or(u16::MAX);
        Span { start: s, len: e.saturating_sub(s) }
    }

    /// The text it covers in `cmd` (empty if out of range).
    pub fn text<'t>(&self, cmd: &'t str) -> &'t str {
        let start = usize::from(self.start);
        cmd.get(start..start + usize::from(self.len)).unwrap_or("")
    }
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NftErrorKind {
    /// The word does not fit here; the text says what was expected.
    Syntax(&'static str),
    /// A value is out of range or malformed; the text says which.
    BadValue(&'static str),
    /// No such table (`ENOENT`).
    NoSuchTable,
    /// No such chain (`ENOENT`).
    NoSuchChain,
    /// No such set (`ENOENT`).
    NoSuchSet,
    /// No rule with that handle (`ENOENT`).
    NoSuchRule,
    /// No such element in the set (`ENOENT`).
    NoSuchElement,
    /// No interface of that name in the namespace (`ENODEV`).
    NoSuchInterface,
    /// It exists already (`EEXIST`, from `create`).
    Exists,
    /// The storage for these objects is full (`ENOSPC`); the text names them.
    Full(&'static str),
    /// Still in use: a chain with rules or jumps to it, a set a rule uses
    /// (`EBUSY`).
    Busy,
    /// Not allowed here; the text says why (`EOPNOTSUPP`, `ELOOP`, ...).
    Invalid(&'static str),
    /// The world has no rule tables attached.
    NotAttached,
    /// No such namespace.
    NoNamespace,
    /// The listing did not fit the output.
    Output,
}

impl fmt::Display for NftErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NftErrorKind::Syntax(what) => write!(f, "syntax error, expected {what}"),
            NftErrorKind::BadValue(what) => write!(f, "bad value: {what}"),
            NftErrorKind::NoSuchTable => f.write_str("No such file or directory; did you mean table?"),
            NftErrorKind::NoSuchChain => f.write_str("No such file or directory; did you mean chain?"),
            NftErrorKind::NoSuchSet => f.write_str("No such file or directory; did you mean set?"),
            NftErrorKind::NoSuchRule => f.write_str("Could not process rule: No such file or directory"),
            NftErrorKind::NoSuchElement => f.write_str("Could not process rule: element does not exist"),
            NftErrorKind::NoSuchInterface => f.write_str("Interface does not exist"),
            NftErrorKind::Exists => f.write_str("File exists"),
            NftErrorKind::Full(what) => write!(f, "No space left for {what}"),
            NftErrorKind::Busy => f.write_str("Device or resource busy"),
            NftErrorKind::Invalid(why) => write!(f, "Operation not supported: {why}"),
            NftErrorKind::NotAttached => f.write_str("no rule tables attached to this world"),
            NftErrorKind::NoNamespace => f.write_str("no such namespace"),
            NftErrorKind::Output => f.write_str("the listing did not fit the output"),
        }
    }
}

/// An error and the word of the command it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NftError {
    /// What went wrong.
    pub kind: NftErrorKind,
    /// Where.
    pub span: Span,
}

impl NftError {
    /// An error about `span`.
    pub fn new(kind: NftErrorKind, span: Span) -> NftError {
        NftError { kind, span }
    }

    /// The error printed as nft prints it, the command underlined:
    ///
    /// ```text
    /// Error: syntax error, expected a match or a statement
    /// add rule inet filter input tcp dpot 22 drop
    ///                                ^^^^
    /// ```
    pub fn report<'a>(&'a self, cmd: &'a str) -> Report<'a> {
        Report { err: self, cmd }
    }
}

impl fmt::Display for NftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.kind, self.span.start)
    }
}

impl core::error::Error for NftError {}

/// See [`NftError::report`].
pub struct Report<'a> {
    err: &'a NftError,
    cmd: &'a str,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Error: {}", self.err.kind)?;
        // One line: the line of the command that holds the word.
        let mut start = usize::from(self.err.span.start).min(self.cmd.len());
        // Bounded by the length of one character.
        while !self.cmd.is_char_boundary(start) {
            start -= 1;
        }
        let line_start = self.cmd[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.cmd[line_start..].find('\n').map_or(self.cmd.len(), |i| line_start + i);
        writeln!(f, "{}", &self.cmd[line_start..line_end])?;
        let col = self.cmd[line_start..start].chars().count();
        let width = self.err.span.text(self.cmd).chars().count().max(1);
        for _ in 0..col {
            f.write_str(" ")?;
        }
        for _ in 0..width {
            f.write_str("^")?;
        }
        Ok(())
    }
}
