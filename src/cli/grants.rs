//! `approvald grants check`: the grants question from a shell, with the
//! answer in the exit code so that scripts can gate on it.

use super::args::{GrantsAction, GrantsCommand};
use super::render::{clean, pretty};
use super::requests::{expect, socket_of};
use super::{Failure, EXIT_API_ERROR};
use crate::api::client::ApiClient;
use crate::api::views::GrantView;

/// Runs `cmd`: the text to print and whether access is allowed.
pub(super) async fn execute(cmd: GrantsCommand) -> Result<(String, bool), Failure> {
    let client = ApiClient::new(socket_of(&cmd.target)?);
    let GrantsAction::Check {
        requester,
        action,
        resource,
        json,
    } = cmd.action;
    let answer = expect(client.check_grant(&requester, &action, &resource).await?)?;
    let view: GrantView = serde_json::from_value(answer.clone())
        .map_err(|e| Failure::new(EXIT_API_ERROR, format!("unexpected answer: {e}")))?;
    if json {
        return Ok((pretty(&answer)?, view.allowed));
    }
    let request = view.request.as_deref().map(clean).unwrap_or_default();
    let text = if view.allowed {
        let until = view.until.map(|u| u.to_rfc3339()).unwrap_or_default();
        let flag = if view.emergency { "  EMERGENCY" } else { "" };
        format!("allowed  {request}  until {until}{flag}\n")
    } else {
        format!("denied  {}  {request}\n", clean(&view.reason))
    };
    Ok((text, view.allowed))
}
