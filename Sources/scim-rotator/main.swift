import SCIMRotatorCLI

await SCIMRotator.runFromCommandLine()
