//! `sim completions SHELL` and `sim man`: shell completions and a man page, generated from the
//! same clap definitions that parse the flags, so they can never fall out of date.
//!
//! Both are written to standard output (`sim completions bash > /etc/bash_completion.d/sim`,
//! `sim man > sim.1`), under the program's own name: a user's `tickets-sim` completes and
//! documents itself as `tickets-sim`.

use std::io::Write;

use clap::{Args, ValueEnum};
use clap_complete::Shell;

use crate::{EXIT_BAD_INPUT, EXIT_OK};

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells completions are generated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    #[value(name = "powershell")]
    PowerShell,
}

impl CompletionShell {
    fn shell(self) -> Shell {
        match self {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Elvish => Shell::Elvish,
            CompletionShell::PowerShell => Shell::PowerShell,
        }
    }
}

#[derive(Args, Debug)]
pub struct ManArgs {}

/// Writes the completion script of `command` for `shell` to standard output.
pub fn completions(mut command: clap::Command, args: CompletionsArgs) -> u8 {
    let name = command.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(args.shell.shell(), &mut command, name, &mut out);
    write_out(&out)
}

/// Writes the man page of `command` (roff, section 1) to standard output, its subcommands
/// included.
pub fn man(command: clap::Command) -> u8 {
    let mut out = Vec::new();
    if let Err(e) = render_man(command, &mut out) {
        eprintln!("error: the man page: {e}");
        return EXIT_BAD_INPUT;
    }
    write_out(&out)
}

/// The page of the command, then a section per subcommand with its own flags.
fn render_man(command: clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let command = command.disable_help_subcommand(true);
    let man = clap_mangen::Man::new(command.clone());
    man.render(out)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{} {}", command.get_name(), sub.get_name());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        let page = clap_mangen::Man::new(sub.clone());
        // The subcommand's own sections, as subsections of its section.
        let mut section = Vec::new();
        page.render_description_section(&mut section)?;
        page.render_options_section(&mut section)?;
        let section = String::from_utf8_lossy(&section).replace(".SH ", ".SS ");
        out.write_all(section.as_bytes())?;
    }
    Ok(())
}

fn write_out(bytes: &[u8]) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: standard output: {e}");
            EXIT_BAD_INPUT
        }
    }
}
