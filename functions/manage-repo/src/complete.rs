//! Shell completion: `completions bash|zsh|fish` prints clap_complete's script (subcommands,
//! flags) plus a small function that asks `manage-repo __complete words -- WORDS...` first:
//! on a REPO, PATTERN/NAME or FILENAME argument that answers names from the server (one
//! request, cached a few seconds), and on anything else nothing, and the script falls back to
//! clap's completion. `__complete` is silent and exits 0 whatever happens: a shell must never
//! show an error while the user types.
use crate::client::enc;
use clap::CommandFactory;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// How long an answer of the server is reused: completing one word asks several times.
const FRESH: Duration = Duration::from_secs(10);

const BASH: &str = r#"
# Names from the server first (repos, packages), else the completion above.
_manage-repo_dynamic() {
    local line=${COMP_LINE:0:$COMP_POINT}
    local -a words
    read -ra words <<< "$line"
    [[ $line =~ [[:space:]]$ ]] && words+=("")
    local found
    found=$("${words[0]}" __complete words -- "${words[@]:1}" 2>/dev/null)
    if [[ -n $found ]]; then
        mapfile -t COMPREPLY <<< "$found"
    else
        _manage-repo "$@"
    fi
}
complete -F _manage-repo_dynamic -o bashdefault -o default manage-repo
"#;

const ZSH: &str = r#"
# Names from the server first (repos, packages), else the completion above.
_manage-repo_dynamic() {
    local -a found
    found=("${(@f)$("${words[1]}" __complete words -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    if [[ -n "${found[1]}" ]]; then
        compadd -a found
    else
        _manage-repo "$@"
    fi
}
"#;

const FISH: &str = r#"
# Names from the server (repos, packages) where the command line wants one.
function __manage_repo_dynamic
    set -l words (commandline -opc) (commandline -ct)
    set -g __manage_repo_found (command $words[1] __complete words -- $words[2..-1] 2>/dev/null)
    test -n "$__manage_repo_found[1]"
end
complete -c manage-repo -n __manage_repo_dynamic -f -a '$__manage_repo_found'
"#;

/// The completion script for `shell`.
pub fn script(shell: Shell, cmd: &mut clap::Command) -> String {
    let mut out = Vec::new();
    let gen = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(gen, cmd, "manage-repo", &mut out);
    let clap = String::from_utf8(out).expect("clap_complete writes UTF-8");
    // clap_complete offers hidden subcommands too: not our helper.
    let clap: String = clap
        .lines()
        .filter(|l| !l.contains("-a \"__complete\"") && !l.starts_with("'__complete:"))
        .map(|l| l.replace(" __complete ", " ") + "\n")
        .collect();
    match shell {
        Shell::Bash => {
            // clap_complete spells the subcommand case labels of a hyphenated binary
            // differently from the state it matches them against, so no subcommand's flags
            // would complete (clap-rs/clap#6421): spell them as the state.
            let clap = clap.replace("manage__subcmd__repo__subcmd__", "manage__repo__subcmd__");
            // clap names its function after the binary, `-` escaped: the one it registers.
            let clap_fn = clap
                .split("complete -F ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .expect("clap_complete's bash registration")
                .to_string();
            clap + &BASH.replace("_manage-repo \"$@\"", &format!("{clap_fn} \"$@\""))
        }
        // zsh: the dynamic function goes before the registration, which then names it.
        Shell::Zsh => {
            let (head, tail) = clap
                .rsplit_once("if [ \"$funcstack[1]\" = \"_manage-repo\" ]")
                .expect("clap_complete's zsh registration");
            let tail = tail
                .replace("    _manage-repo \"$@\"", "    _manage-repo_dynamic \"$@\"")
                .replace(
                    "compdef _manage-repo manage-repo",
                    "compdef _manage-repo_dynamic manage-repo",
                );
            format!("{head}{ZSH}\nif [ \"$funcstack[1]\" = \"_manage-repo\" ]{tail}")
        }
        Shell::Fish => clap + FISH,
    }
}

/// `__complete ...`: prints the candidates, one a line; nothing on any error.
pub fn candidates(at: &crate::Target, what: &[String], words: &[String]) {
    let arg = |i: usize| what.get(i).map(String::as_str).unwrap_or_default();
    let server = Server {
        url: at.server.clone(),
        token: at.token.clone(),
    };
    let found = match arg(0) {
        "repos" => server.repos(arg(1)),
        "packages" => server.names(arg(1), arg(2)),
        "filenames" => server.filenames(arg(1), arg(2)),
        "words" => from_words(server, words),
        _ => Vec::new(),
    };
    for c in found {
        println!("{c}");
    }
}

/// What the command line's last word (being typed) is, if the server knows its values.
#[derive(Debug, PartialEq)]
pub(crate) enum Want {
    Repo(String),
    Name { repo: String, prefix: String },
    Filename { repo: String, prefix: String },
}

/// The server flags found on the command line, and what the last word wants.
pub(crate) fn parse_words(words: &[String]) -> (Option<String>, Option<String>, Option<Want>) {
    let mut root = crate::Cli::command();
    root.build();
    let (mut server, mut token) = (None, None);
    let Some((cur, done)) = words.split_last() else {
        return (None, None, None);
    };
    let takes = |a: &clap::Arg| a.get_action().takes_values();
    let mut cmd = &root;
    let mut positionals: Vec<&str> = Vec::new();
    let mut value_next = false;
    let mut only_positionals = false;
    let mut i = 0;
    while i < done.len() {
        let w = done[i].as_str();
        i += 1;
        if only_positionals {
            positionals.push(w);
        } else if w == "--" {
            only_positionals = true;
        } else if let Some(long) = w.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let wants = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(name))
                .is_some_and(takes);
            let value = match inline {
                Some(v) => Some(v),
                None if wants => {
                    i += 1;
                    value_next = i > done.len();
                    done.get(i - 1).cloned()
                }
                None => None,
            };
            match name {
                "server" => server = value,
                "token" => token = value,
                _ => {}
            }
        } else if w.len() > 1 && w.starts_with('-') {
            let short = w.chars().nth(1);
            let wants = cmd
                .get_arguments()
                .find(|a| a.get_short() == short)
                .is_some_and(takes);
            if wants && w.len() == 2 {
                i += 1;
                value_next = i > done.len();
            }
        } else if cmd.has_subcommands() {
            match cmd.find_subcommand(w) {
                Some(sub) => cmd = sub,
                None => return (server, token, None),
            }
        } else {
            positionals.push(w);
        }
    }
    if value_next || cur.starts_with('-') || cmd.has_subcommands() {
        return (server, token, None);
    }
    let args: Vec<&clap::Arg> = cmd.get_positionals().collect();
    let arg = match args.get(positionals.len()) {
        Some(a) => *a,
        None => match args.last() {
            Some(a) if a.get_num_args().is_some_and(|n| n.max_values() > 1) => *a,
            _ => return (server, token, None),
        },
    };
    // A quote the user opened is not part of the name.
    let prefix = cur.trim_start_matches(['\'', '"']).to_string();
    let repo = positionals
        .first()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let want = match (cmd.get_name(), arg.get_id().as_str()) {
        ("create", _) => None,
        (_, "repo") => Some(Want::Repo(prefix)),
        ("download", "patterns") | ("show", "name") => Some(Want::Name { repo, prefix }),
        ("remove", "filename") => Some(Want::Filename { repo, prefix }),
        _ => None,
    };
    (server, token, want)
}

fn from_words(mut server: Server, words: &[String]) -> Vec<String> {
    let (url, token, want) = parse_words(words);
    // Flags on the command line win over the environment, as for the command itself.
    if url.is_some() {
        server.url = url;
    }
    if token.is_some() {
        server.token = token;
    }
    match want {
        Some(Want::Repo(prefix)) => server.repos(&prefix),
        Some(Want::Name { repo, prefix }) => server.names(&repo, &prefix),
        Some(Want::Filename { repo, prefix }) => server.filenames(&repo, &prefix),
        None => Vec::new(),
    }
}

struct Server {
    url: Option<String>,
    token: Option<String>,
}

impl Server {
    fn repos(&self, prefix: &str) -> Vec<String> {
        let v = self.get("/repos/");
        pick(&v, "repos", "name", prefix)
    }

    /// Package names starting with `prefix`: the name query (`name=PREFIX*`), one page.
    fn names(&self, repo: &str, prefix: &str) -> Vec<String> {
        if repo.is_empty() {
            return Vec::new();
        }
        let glob = format!("{}*", glob::Pattern::escape(prefix));
        let path = format!(
            "/repos/{}/packages/?name={}&limit=1000",
            enc(repo),
            enc(&glob)
        );
        pick(&self.get(&path), "packages", "name", prefix)
    }

    /// File names starting with `prefix`, from the repo's package list.
    fn filenames(&self, repo: &str, prefix: &str) -> Vec<String> {
        if repo.is_empty() {
            return Vec::new();
        }
        let v = self.get(&format!("/repos/{}/packages/", enc(repo)));
        pick(&v, "packages", "filename", prefix)
    }

    /// The server's JSON answer to `GET path`, from the cache while it is fresh; Null on any
    /// error.
    fn get(&self, path: &str) -> Value {
        let Some(base) = self.url.as_deref() else {
            return Value::Null;
        };
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let token = self.token.as_deref().unwrap_or_default();
        // Keyed by token too: a read token sees private repos another caller does not.
        let key = hex::encode(Sha256::digest(format!("{url}\0{token}")));
        let file = cache_dir().map(|d| d.join(&key[..32]));
        if let Some(f) = &file {
            let fresh = std::fs::metadata(f)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < FRESH));
            if fresh {
                if let Ok(v) = std::fs::read(f).map(|b| serde_json::from_slice(&b)) {
                    return v.unwrap_or(Value::Null);
                }
            }
        }
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(3))
            .build();
        let mut req = agent.get(&url);
        if !token.is_empty() {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
        let Ok(text) = req.call().map(|r| r.into_string()) else {
            return Value::Null;
        };
        let Ok(text) = text else {
            return Value::Null;
        };
        if let Some(f) = &file {
            // Whole or not at all: another completion may be reading it.
            let tmp = f.with_extension(format!("{}.tmp", std::process::id()));
            if std::fs::write(&tmp, &text).is_ok() {
                let _ = std::fs::rename(&tmp, f);
            }
        }
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// `$XDG_CACHE_HOME/manage-repo`, else `~/.cache/manage-repo`, else one under /tmp per user;
/// made 0700 (it holds repo names).
fn cache_dir() -> Option<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("manage-repo"))
        .unwrap_or_else(|| {
            // SAFETY: getuid has no preconditions.
            let uid = unsafe { libc::getuid() };
            std::env::temp_dir().join(format!("manage-repo-{uid}"))
        });
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .ok()?;
    Some(dir)
}

/// The distinct `v[list][*][field]` that start with `prefix`, sorted.
fn pick(v: &Value, list: &str, field: &str, prefix: &str) -> Vec<String> {
    let found: BTreeSet<&str> = v[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p[field].as_str())
        .filter(|n| n.starts_with(prefix))
        .collect();
    found.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(line: &str) -> (Option<String>, Option<Want>) {
        let mut words: Vec<String> = line.split(' ').map(String::from).collect();
        words.remove(0); // the command
        let (server, _, w) = parse_words(&words);
        (server, w)
    }

    fn name(repo: &str, prefix: &str) -> Option<Want> {
        Some(Want::Name {
            repo: repo.into(),
            prefix: prefix.into(),
        })
    }

    #[test]
    fn the_word_being_typed_is_known() {
        assert_eq!(want("m download myrepo gc").1, name("myrepo", "gc"));
        assert_eq!(want("m download my").1, Some(Want::Repo("my".into())));
        assert_eq!(want("m download myrepo a 'b").1, name("myrepo", "b"));
        assert_eq!(want("m show r ").1, name("r", ""));
        assert_eq!(
            want("m remove r har").1,
            Some(Want::Filename {
                repo: "r".into(),
                prefix: "har".into()
            })
        );
        assert_eq!(want("m key rotate ").1, Some(Want::Repo("".into())));
        assert_eq!(want("m list x").1, Some(Want::Repo("x".into())));
        assert_eq!(want("m add r").1, Some(Want::Repo("r".into())));
        // Flags and their values are skipped; --server is taken from the line.
        let (server, w) = want("m --server http://h:1 download --arch amd64 -j 2 --resolve r g");
        assert_eq!((server.as_deref(), w), (Some("http://h:1"), name("r", "g")));
        let (server, w) = want("m download --server=http://h:2 r g");
        assert_eq!((server.as_deref(), w), (Some("http://h:2"), name("r", "g")));
        // Not a server name: a subcommand, a flag, a flag's value, a file, a new repo.
        for line in [
            "m do",
            "m download r --ar",
            "m download r --arch ",
            "m download r -j ",
            "m add r ./x",
            "m create ne",
            "m token create ",
            "m search r te",
            "m nosuch r x",
            "m completions ",
        ] {
            assert_eq!(want(line).1, None, "{line}");
        }
    }

    #[test]
    fn scripts_ask_the_server_first() {
        let mut cmd = crate::Cli::command();
        let bash = script(Shell::Bash, &mut cmd);
        assert!(bash.contains("complete -F _manage-repo_dynamic"), "{bash}");
        assert!(
            bash.contains("        manage__repo__subcmd__download)"),
            "{bash}"
        );
        assert!(
            bash.contains("        _manage__repo \"$@\""),
            "clap's function: {bash}"
        );
        let zsh = script(Shell::Zsh, &mut cmd);
        assert!(
            zsh.contains("compdef _manage-repo_dynamic manage-repo"),
            "{zsh}"
        );
        assert!(zsh.contains("    _manage-repo_dynamic \"$@\""), "{zsh}");
        assert!(zsh.starts_with("#compdef manage-repo"), "{zsh}");
        let fish = script(Shell::Fish, &mut cmd);
        assert!(fish.contains("-n __manage_repo_dynamic"), "{fish}");
        // The helper itself is not offered.
        assert!(
            bash.lines()
                .all(|l| !l.contains("opts=") || !l.contains("__complete")),
            "{bash}"
        );
        assert!(!fish.contains("-a \"__complete\""), "{fish}");
        assert!(!zsh.contains("'__complete:"), "{zsh}");
    }

    #[test]
    fn picks_distinct_names_with_the_prefix() {
        let v = serde_json::json!({"packages": [{"name": "gcc"}, {"name": "gdb"},
            {"name": "gcc"}, {"name": "abc"}, {}]});
        assert_eq!(pick(&v, "packages", "name", "g"), ["gcc", "gdb"]);
        assert!(pick(&Value::Null, "packages", "name", "").is_empty());
    }
}
