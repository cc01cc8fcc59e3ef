using ApiGate.Cli.Commands;

return await CliApp.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable);
