using ApiGate.Cli.Commands;
using ApiGate.Gateway.Hosting;

// Before anything in the process opens a socket: a PostgreSQL store is opened, and serve and demo probe their port,
// before the server is built, and the runtime reads its socket settings at the first socket.
GatewayHost.PrepareProcess();

return await CliApp.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable,
    environmentNames: Environment.GetEnvironmentVariables().Keys.OfType<string>());
