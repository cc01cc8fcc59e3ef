using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(ApiGate.Benchmarks.RouteMatchingBenchmarks).Assembly).Run(args);
