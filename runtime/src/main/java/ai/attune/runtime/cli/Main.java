package ai.attune.runtime.cli;

import picocli.CommandLine;

/** The {@code attune} launcher's entry point. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code: 0 ok, 1 failed, 2 bad usage, 3 a data-parallel peer failed. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new AttuneCommand());
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            // Bad input is reported in one line; a stack trace is for bugs, and only on request.
            cmd.getErr().println("attune: " + oneLine(ex));
            if (Boolean.getBoolean("attune.debug")) {
                ex.printStackTrace(cmd.getErr());
            }
            // A data-parallel rank whose group broke reports it, but the cause is another rank's (or a timeout): the launcher tells them apart.
            return ex instanceof ai.attune.api.dist.CollectiveException ? ai.attune.runtime.dist.RankLauncher.PEER_FAILED : 1;
        });
        cli.setParameterExceptionHandler((ex, a) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("attune: " + ex.getMessage());
            cmd.usage(cmd.getErr());
            return 2;
        });
        return cli.execute(args);
    }

    static String oneLine(Throwable ex) {
        String m = ex.getMessage();
        if (m == null || m.isBlank()) {
            m = ex.getClass().getSimpleName();
        }
        return m.lines().findFirst().orElse(m);
    }
}
