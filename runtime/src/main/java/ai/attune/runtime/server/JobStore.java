package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The runs directory: one {@code <id>/} per job, holding the run and its {@code job.json}. Ids are
 * reserved by creating the directory, so two submissions (or two server lives) never share one.
 */
final class JobStore {
    static final String JOB_FILE = "job.json";
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private final Path runs;
    private final ObjectMapper json;
    private final AtomicLong counter = new AtomicLong();

    JobStore(Path runs, ObjectMapper json) throws IOException {
        this.runs = Files.createDirectories(runs.toAbsolutePath().normalize());
        this.json = json;
    }

    Path runs() {
        return runs;
    }

    /** Creates an empty run directory under a new id and returns it. */
    Path reserve() throws IOException {
        String stamp = LocalDateTime.now().format(STAMP);
        while (true) {
            Path dir = runs.resolve("job-" + stamp + "-" + counter.incrementAndGet());
            try {
                return Files.createDirectory(dir);
            } catch (FileAlreadyExistsException taken) {
                // left by an earlier server life in the same second: take the next number
            }
        }
    }

    /** Writes job.json whole (temp file, then rename), so a kill never leaves half of it. */
    void save(Job job) throws IOException {
        synchronized (job) {
            Path tmp = job.runDir.resolve("." + JOB_FILE + ".tmp");
            Files.writeString(tmp, json.writeValueAsString(job.toJson(json)), StandardCharsets.UTF_8);
            Files.move(tmp, job.runDir.resolve(JOB_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /**
     * The jobs of earlier server lives. Those that were queued, running or paused when the server
     * stopped (possibly by kill -9) come back as interrupted, and that is written back at once.
     */
    List<Job> load() throws IOException {
        List<Job> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(runs)) {
            for (Path dir : ds) {
                Path file = dir.resolve(JOB_FILE);
                if (!Files.isRegularFile(file)) {
                    continue; // a directory reserved by a submission that never completed
                }
                Job job;
                try {
                    job = Job.fromJson((ObjectNode) json.readTree(file.toFile()), dir);
                } catch (IOException | RuntimeException e) {
                    continue; // not ours
                }
                if (job.state().isLive()) {
                    job.state(JobState.INTERRUPTED, "the server stopped while the job was " + job.state().wire() + "; resume it to continue from its latest checkpoint");
                    save(job);
                }
                out.add(job);
            }
        }
        return out;
    }
}
