"""MCP test servers on the official SDK, exposing the tools the peer's recordings show.

Run: `python tests/mcp_server.py --port N --tools boiling|dependency [--token T] [--transport http|sse]`.
With `--token`, requests without `Authorization: Bearer T` get HTTP 401.
"""

from __future__ import annotations

import argparse

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

# fmt: off
# The docstrings are part of the tool definitions the model sees: they match the recordings.


def boiling_server() -> MCPServer:
    server = MCPServer("localmcp")

    @server.tool()
    def greet_everyone(url: str) -> str:
        return "Hello, world!"

    @server.tool()
    def get_boiling_point(liquid_name: str, celsius: bool = True) -> int:
        """
        Returns the boiling point of a liquid in Celsius or Fahrenheit.

        :param liquid_name: The name of the liquid
        :param celsius: Whether to return the boiling point in Celsius
        :return: The boiling point of the liquid in Celcius or Fahrenheit
        """
        if liquid_name.lower() == "myawesomeliquid":
            return -100 if celsius else -212
        return -1

    return server


USERS = {"alice": "user_12345", "bob": "user_67890", "charlie": "user_11111", "admin": "user_00000"}
PERMISSIONS = {"user_12345": "read,write", "user_67890": "read", "user_11111": "admin",
               "user_00000": "superuser"}
EXPERIMENTS = {"temperature_test": "exp_001", "pressure_test": "exp_002", "chemical_reaction": "exp_003",
               "boiling_point": "exp_004"}
RESULTS = {"exp_003": "Yield: 85%, Status: Complete", "exp_004": "Boiling Point: 100°C, Status: Verified"}


def dependency_server() -> MCPServer:
    server = MCPServer("localmcp")

    @server.tool()
    def get_user_id(username: str) -> str:
        """
        Get the user ID for a given username. This ID is needed for other operations.

        :param username: The username to look up
        :return: The user ID for the username
        """
        return USERS.get(username, "unknown_user")

    @server.tool()
    def get_user_permissions(user_id: str) -> str:
        """
        Get the permissions for a user ID. Requires a valid user ID from get_user_id.

        :param user_id: The user ID to check permissions for
        :return: The permissions for the user
        """
        return PERMISSIONS.get(user_id, "none")

    @server.tool()
    def check_file_access(user_id: str, filename: str) -> str:
        """
        Check if a user can access a specific file. Requires a valid user ID.

        :param user_id: The user ID to check access for
        :param filename: The filename to check access to
        :return: Whether the user can access the file (yes/no)
        """
        return "yes" if user_id == "user_12345" or filename.startswith("public") else "no"

    @server.tool()
    def get_experiment_id(experiment_name: str) -> str:
        """
        Get the experiment ID for a given experiment name. This ID is needed to get results.

        :param experiment_name: The name of the experiment
        :return: The experiment ID
        """
        return EXPERIMENTS.get(experiment_name, "exp_unknown")

    @server.tool()
    def get_experiment_results(experiment_id: str) -> str:
        """
        Get the results for an experiment ID. Requires a valid experiment ID from get_experiment_id.

        :param experiment_id: The experiment ID to get results for
        :return: The experiment results
        """
        return RESULTS.get(experiment_id, "No results")

    return server
# fmt: on


class RequireToken:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != self.expected:
            await send(
                {"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]}
            )
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tools", choices=("boiling", "dependency"), default="boiling")
    parser.add_argument("--token")
    parser.add_argument("--transport", choices=("http", "sse"), default="http")
    args = parser.parse_args()
    server = boiling_server() if args.tools == "boiling" else dependency_server()
    app: ASGIApp = server.streamable_http_app() if args.transport == "http" else server.sse_app()
    if args.token:
        app = RequireToken(app, args.token)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
