//! One module per subcommand; [`run`] dispatches to them.

pub mod access;
pub mod alerts;
pub mod archive;
pub mod audit;
pub mod changes;
pub mod demo;
pub mod detect;
pub mod doctor;
pub mod logs;
pub mod review;
pub mod rules;
pub mod serve;
pub mod sim;
pub mod sync;
pub(crate) mod workflows;

use anyhow::Result;

use crate::args::{
    AlertsCommand, AuditCommand, Cli, Command, LogsCommand, ReviewCommand, RulesCommand,
};
use crate::exit::ExitStatus;
use crate::progress::TerminalProgress;
use crate::settings::Settings;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitStatus> {
    let progress = TerminalProgress::new(cli.global.quiet);
    if let Command::Demo(args) = &cli.command {
        let report = demo::run(&demo::DemoOptions::from_args(args), &progress).await?;
        demo::print_report(&report)?;
        return Ok(ExitStatus::Success);
    }
    if let Command::Sim(args) = &cli.command {
        return sim::run(args).await;
    }

    let settings = Settings::load(&cli.global)?;
    match cli.command {
        Command::Sync(args) => sync::run(&settings, &args, &progress).await,
        Command::Access(args) => access::run(&settings, &args),
        Command::Changes(args) => changes::run(&settings, &args),
        Command::Doctor(args) => doctor::run(&settings, &args).await,
        Command::Logs(LogsCommand::Pull(args)) => logs::pull(&settings, &args, &progress).await,
        Command::Logs(LogsCommand::Import(args)) => logs::import(&settings, &args),
        Command::Logs(LogsCommand::Follow(args)) => logs::follow(&settings, &args).await,
        Command::Serve(args) => serve::run(&settings, &args).await,
        Command::Archive(args) => archive::run(&settings, &args).await,
        Command::Detect(args) => detect::run(&settings, &args).await,
        Command::Alerts(AlertsCommand::List(args)) => alerts::list(&settings, &args),
        Command::Alerts(AlertsCommand::Show(args)) => alerts::show(&settings, &args),
        Command::Alerts(AlertsCommand::Ack(args)) => {
            alerts::set_status(&settings, &args, idaudit_store::AlertStatus::Acknowledged)
        }
        Command::Alerts(AlertsCommand::Close(args)) => {
            alerts::set_status(&settings, &args, idaudit_store::AlertStatus::Closed)
        }
        Command::Rules(RulesCommand::List(args)) => rules::list(&settings, &args),
        Command::Rules(RulesCommand::Test(args)) => rules::test(&args),
        Command::Review(ReviewCommand::Start(args)) => review::start(&settings, &args),
        Command::Review(ReviewCommand::Export(args)) => review::export(&settings, &args),
        Command::Review(ReviewCommand::Decide(args)) => review::decide(&settings, &args),
        Command::Review(ReviewCommand::Remediate(args)) => {
            review::remediate(&settings, &args).await
        }
        Command::Review(ReviewCommand::Close(args)) => review::close(&settings, &args),
        Command::Review(ReviewCommand::Verify(args)) => review::verify(&settings, &args),
        Command::Review(ReviewCommand::Compare(args)) => review::compare(&settings, &args),
        Command::Audit(AuditCommand::Posture(args)) => audit::posture(&settings, &args),
        Command::Audit(AuditCommand::Leavers(args)) => audit::leavers(&settings, &args),
        Command::Audit(AuditCommand::Joiners(args)) => audit::joiners(&settings, &args),
        Command::Audit(AuditCommand::Movers(args)) => audit::movers(&settings, &args),
        Command::Demo(_) | Command::Sim(_) => unreachable!("handled above"),
    }
}
