//! The files a package installs next to the binary that describe its
//! command line: man pages and shell completions. They are generated from
//! the clap definition the binary itself parses with, so they cannot drift
//! from it, and they are not kept in the repository.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches, CommandFactory};
use clap_complete::Shell;

use super::Cli;

/// The hidden command that writes them: `approvald generate-assets DIR`.
const GENERATE: &str = "generate-assets";

/// `cmd` with the hidden `generate-assets DIR` command added. It is not in
/// [`Cli`] itself, so the man pages and completions (generated from `Cli`)
/// do not offer it: it is a step of building the package, not something an
/// operator runs.
pub(crate) fn with_generate_command(cmd: clap::Command) -> clap::Command {
    cmd.subcommand(
        clap::Command::new(GENERATE)
            .hide(true)
            .about("Write the man pages and shell completions into DIR")
            .arg(
                Arg::new("dir")
                    .value_name("DIR")
                    .required(true)
                    .value_parser(clap::value_parser!(PathBuf)),
            ),
    )
}

/// The directory to write into, when the command line asked for it.
pub(crate) fn generate_requested(matches: &ArgMatches) -> Option<PathBuf> {
    match matches.subcommand() {
        Some((GENERATE, m)) => m.get_one::<PathBuf>("dir").cloned(),
        _ => None,
    }
}

/// The shells completions are written for, with the file each one reads
/// (relative to the output directory; the package maps them to the
/// shells' vendor directories).
const COMPLETIONS: [(Shell, &str); 3] = [
    (Shell::Bash, "completions/approvald.bash"),
    (Shell::Zsh, "completions/_approvald"),
    (Shell::Fish, "completions/approvald.fish"),
];

/// Writes the man pages (`man/approvald.1` and one page per subcommand,
/// `approvald-serve.1` and so on) and the completions under `dir`; returns
/// the files written.
pub(crate) fn generate(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    let mut written = Vec::new();

    let man = dir.join("man");
    std::fs::create_dir_all(&man).map_err(|e| io(&man, e))?;
    // generate_to writes every page; the list is read back so the caller can
    // say what it got (and a test can check the set).
    clap_mangen::generate_to(Cli::command(), &man).map_err(|e| io(&man, e))?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&man)
        .map_err(|e| io(&man, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    written.extend(pages);

    for (shell, name) in COMPLETIONS {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let mut file = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
        clap_complete::generate(shell, &mut Cli::command(), "approvald", &mut file);
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_and_completions_describe_the_real_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let written = generate(dir.path()).unwrap();
        let read = |rel: &str| std::fs::read_to_string(dir.path().join(rel)).unwrap();
        // What must be in each file: a subcommand and an option it has, so a
        // generator fed the wrong command (or none) fails here.
        let cases: [(&str, &[&str]); 6] = [
            (
                "man/approvald.1",
                &[".TH approvald 1", "check\\-config", "serve"],
            ),
            (
                "man/approvald-serve.1",
                &[".TH approvald-serve 1", "\\-\\-config"],
            ),
            (
                "man/approvald-request-submit.1",
                &["\\-\\-governance\\-code", "\\-\\-requester"],
            ),
            (
                "completions/approvald.bash",
                &["_approvald()", "check-config", "--governance-code"],
            ),
            (
                "completions/_approvald",
                &["#compdef approvald", "check-config", "--governance-code"],
            ),
            (
                "completions/approvald.fish",
                &["complete -c approvald", "check-config", "governance-code"],
            ),
        ];
        for (file, wanted) in cases {
            let text = read(file);
            for w in wanted {
                assert!(text.contains(w), "{file} lacks {w:?}");
            }
            assert!(
                written.contains(&dir.path().join(file)),
                "{file} not listed"
            );
        }
        // The command that builds them is for packaging, not for users' eyes.
        for file in [
            "man/approvald.1",
            "completions/approvald.bash",
            "completions/_approvald",
            "completions/approvald.fish",
        ] {
            assert!(!read(file).contains(GENERATE), "{file} offers {GENERATE}");
        }
    }

    #[test]
    fn the_generate_command_is_found_and_the_others_left_to_cli() {
        let parse = |args: &[&str]| {
            with_generate_command(Cli::command())
                .try_get_matches_from(args)
                .map(|m| generate_requested(&m))
                .map_err(|e| e.kind())
        };
        type Parsed = Result<Option<PathBuf>, clap::error::ErrorKind>;
        let cases: [(&[&str], Parsed); 3] = [
            (
                &["approvald", GENERATE, "out"],
                Ok(Some(PathBuf::from("out"))),
            ),
            (&["approvald", "check-config", "--config", "x"], Ok(None)),
            (
                &["approvald", GENERATE],
                Err(clap::error::ErrorKind::MissingRequiredArgument),
            ),
        ];
        for (args, want) in cases {
            assert_eq!(parse(args), want, "{args:?}");
        }
    }
}
