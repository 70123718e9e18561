//! `capp-components`: prints capp's clusterctl provider artifacts or writes a clusterctl local
//! repository. Thin on purpose: the generators live in this crate's library.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use capp_components::{Release, Version};
use clap::{Parser, Subcommand};

/// Generates capp's clusterctl provider components, metadata, cluster templates and local
/// repository.
///
/// Without a subcommand, prints provider-components.yaml (the same content as the
/// repository's infrastructure-components.yaml). Output is deterministic.
#[derive(Debug, Parser)]
#[command(name = "capp-components", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print provider-components.yaml (the default).
    Components {
        #[command(flatten)]
        release: ReleaseArgs,
    },
    /// Print only the CustomResourceDefinitions.
    Crds,
    /// Print metadata.yaml (clusterctl.cluster.x-k8s.io/v1alpha3 Metadata).
    Metadata {
        /// Release version (vMAJOR.MINOR.PATCH) whose series to list.
        #[arg(long, value_parser = parse_version)]
        version: Option<Version>,
    },
    /// Print a cluster template (cluster-template[-FLAVOR].yaml) for `clusterctl generate cluster`.
    ///
    /// Flavors: default (CPEM moves the control-plane Elastic IP), kube-vip (kube-vip
    /// announces it over BGP), crs-cni and kube-vip-crs-cni (the same plus flannel installed
    /// by a ClusterResourceSet), clusterclass (a ClusterClass and a Cluster using it).
    /// Variables are listed in docs/clusterctl.md.
    Template {
        /// The flavor; default: the default flavor (cluster-template.yaml).
        flavor: Option<String>,
    },
    /// Write a clusterctl local repository: OUT/infrastructure-packet/VERSION/{infrastructure-components.yaml,
    /// metadata.yaml, cluster-template*.yaml (every flavor)} and OUT/clusterctl.yaml, for
    /// `clusterctl init --config OUT/clusterctl.yaml --infrastructure packet`.
    Repository {
        /// Directory to write (created if missing).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        release: ReleaseArgs,
    },
}

#[derive(Debug, clap::Args)]
struct ReleaseArgs {
    /// Release version (vMAJOR.MINOR.PATCH); default: this build's version.
    #[arg(long, value_parser = parse_version)]
    version: Option<Version>,
    /// Manager image; default: ghcr.io/capp-rs/capp-manager:VERSION.
    #[arg(long)]
    image: Option<String>,
}

fn parse_version(text: &str) -> Result<Version, String> {
    text.parse()
        .map_err(|e: capp_components::Error| e.to_string())
}

impl ReleaseArgs {
    fn release(self) -> anyhow::Result<Release> {
        let Self { version, image } = self;
        let release = Release::new(version.unwrap_or_else(Version::current));
        Ok(match image {
            Some(image) => release.with_image(&image).context("invalid --image")?,
            None => release,
        })
    }
}

impl Args {
    fn run(self) -> anyhow::Result<String> {
        let command = self.command.unwrap_or(Command::Components {
            release: ReleaseArgs {
                version: None,
                image: None,
            },
        });
        Ok(match command {
            Command::Components { release } => capp_components::to_yaml(
                &capp_components::components::components(&release.release()?)?,
            )?,
            Command::Crds => capp_components::to_yaml(&capp_components::components::crds()?)?,
            Command::Metadata { version } => {
                capp_components::to_yaml(&[capp_components::metadata::metadata(
                    version.unwrap_or_else(Version::current),
                )])?
            }
            Command::Template { flavor } => {
                let flavor = capp_components::templates::Flavor::from_name(
                    flavor.as_deref().unwrap_or_default(),
                )?;
                capp_components::templates::render(flavor)?
            }
            Command::Repository { out, release } => {
                let written = capp_components::repository::write(&out, &release.release()?)
                    .with_context(|| format!("cannot write the repository in {}", out.display()))?;
                let mut report = String::new();
                for path in written {
                    report.push_str("wrote ");
                    report.push_str(&path.display().to_string());
                    report.push('\n');
                }
                report
            }
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.run() {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
        Err(e) => {
            #[expect(
                clippy::print_stderr,
                reason = "the one-line error of a command-line tool"
            )]
            {
                eprintln!("capp-components: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}
