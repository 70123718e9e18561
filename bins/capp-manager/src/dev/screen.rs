//! Stdout of `capp-manager dev`: messages, and the progress table redrawn in place on a
//! terminal, or its changed rows as plain lines when stdout is a pipe or a file.

use std::io::{IsTerminal as _, Write as _};

/// Where dev mode prints. Write errors (a closed pipe) are ignored: printing is a courtesy,
/// the servers keep running.
#[derive(Debug)]
pub(super) struct Screen {
    terminal: bool,
    /// Lines of the table currently drawn below the messages (terminal only).
    drawn: usize,
}

impl Screen {
    /// Detects whether stdout is a terminal.
    pub(super) fn new() -> Self {
        Self {
            terminal: std::io::stdout().is_terminal(),
            drawn: 0,
        }
    }

    /// Prints a message line (above the table, on a terminal).
    pub(super) fn line(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.terminal && self.drawn > 0 {
            let _ = write!(out, "{}", erase(self.drawn));
            self.drawn = 0;
        }
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// Shows the table: redrawn in place on a terminal; otherwise only `changed` rows are
    /// printed, one line each.
    pub(super) fn table(&mut self, table: &[String], changed: &[String]) {
        let mut out = std::io::stdout().lock();
        if self.terminal {
            if self.drawn > 0 {
                let _ = write!(out, "{}", erase(self.drawn));
            }
            for row in table {
                let _ = writeln!(out, "{row}");
            }
            self.drawn = table.len();
        } else {
            for row in changed {
                let _ = writeln!(out, "{row}");
            }
        }
        let _ = out.flush();
    }

    /// Removes the drawn table (terminal only), so the next messages follow the last ones.
    pub(super) fn clear_table(&mut self) {
        if self.terminal && self.drawn > 0 {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", erase(self.drawn));
            let _ = out.flush();
            self.drawn = 0;
        }
    }
}

/// ANSI: move the cursor up `lines` lines and erase from there to the end of the screen.
fn erase(lines: usize) -> String {
    format!("\x1b[{lines}A\x1b[J")
}
