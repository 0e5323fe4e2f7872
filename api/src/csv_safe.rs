//! CSV the server writes, safe to open in a spreadsheet.
//!
//! Spreadsheet programs run a cell that begins with `=`, `+`, `-` or `@` as a
//! formula (and some also after a leading tab or carriage return), so a name
//! like `=HYPERLINK(...)` in an export would run on the reader's machine. Every
//! CSV writer of the server goes through [`Writer`], which prefixes such a
//! cell with `'`: the spreadsheet shows the text, and runs nothing.
//! `clippy.toml` disallows `csv::Writer` everywhere else.
#![expect(
    clippy::disallowed_types,
    reason = "the one module that wraps csv::Writer"
)]

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell as text a spreadsheet will not run: prefixed with `'` when it
/// begins with a formula character, otherwise unchanged.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV writer whose every cell is [`neutralise`]d.
pub struct Writer<W: std::io::Write> {
    inner: csv::Writer<W>,
}

impl<W: std::io::Write> Writer<W> {
    /// A writer over `out` with the `csv` crate's defaults (comma, quoting as needed).
    pub fn from_writer(out: W) -> Self {
        Self {
            inner: csv::Writer::from_writer(out),
        }
    }

    /// Writes one record, each cell neutralised.
    pub fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.inner.write_record(
            record
                .into_iter()
                .map(|cell| neutralise(cell.as_ref()).into_owned()),
        )
    }

    /// Flushes and answers the underlying writer.
    pub fn into_inner(self) -> std::io::Result<W> {
        self.inner.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_begin_a_formula_are_prefixed_and_others_are_left_alone() {
        for (cell, safe) in [
            ("=1+2", "'=1+2"),
            ("+3", "'+3"),
            ("-4", "'-4"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tTAB", "'\tTAB"),
            ("\rCR", "'\rCR"),
            ("=", "'="),
            ("'=1", "'=1"),
            ("王五", "王五"),
            ("a=b", "a=b"),
            ("2027-05-01", "2027-05-01"),
            (" =1", " =1"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), safe, "{cell:?}");
        }
    }

    #[test]
    fn the_writer_neutralises_every_cell_and_quotes_as_csv_needs() {
        let mut writer = Writer::from_writer(Vec::new());
        writer
            .write_record(["=cmd|' /C calc'!A0", "plain", "-1,5", "\r\n"])
            .unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(text, "'=cmd|' /C calc'!A0,plain,\"'-1,5\",\"'\r\n\"\n");
    }
}
