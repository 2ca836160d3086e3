package searcher.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.config.Configurator;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * One OpenSearch node in this JVM, built from the published server and plugin jars.
 *
 * <p>Arguments are {@code -Ekey=value} settings, as for the distribution's own script;
 * {@code path.home} is required. The distribution's Bootstrap (JarHell check, security
 * manager, bootstrap checks, native calls) is not used: tests start this on loopback only.
 * The plugins the distribution would load from its modules/ folder are given on the
 * classpath instead, through Node's protected constructor.
 */
public final class SearcherNode {

    /**
     * The distribution's modules that the searcher needs: HTTP and transport over Netty, the
     * common analyzers (whitespace tokenizer, stop, pattern_capture), and reindex
     * (_delete_by_query). Everything else (painless, mapper-extras, …) is left out.
     */
    static final List<Class<? extends Plugin>> PLUGINS =
        List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, ReindexPlugin.class);

    private SearcherNode() {}

    public static void main(String[] args) throws Exception {
        Settings.Builder given = Settings.builder();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (!arg.startsWith("-E") || eq < 3) {
                System.err.println("Error: expected -Ekey=value, got " + arg);
                System.exit(2);
            }
            given.put(arg.substring(2, eq), arg.substring(eq + 1));
        }
        Settings input = Settings.builder()
            .put("cluster.name", "searcher-test")
            .put("network.host", "127.0.0.1")
            // Disk watermarks would refuse replicas on a nearly full disk; tests want allocation.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put(given.build())
            .build();
        String home = input.get("path.home");
        if (home == null) {
            System.err.println("Error: -Epath.home=DIR is required");
            System.exit(2);
        }
        Path config = Paths.get(home, "config");
        Files.createDirectories(config);
        // Empty plugins/ and modules/ folders: nothing is loaded from disk, everything from the classpath.
        Files.createDirectories(Paths.get(home, "plugins"));
        Files.createDirectories(Paths.get(home, "modules"));
        Path log4j = config.resolve("log4j2.properties");
        if (Files.notExists(log4j)) {
            try (InputStream in = SearcherNode.class.getResourceAsStream("/log4j2.properties")) {
                Files.copy(in, log4j, StandardCopyOption.REPLACE_EXISTING);
            }
        }

        Environment env = InternalSettingsPreparer.prepareEnvironment(
            input, Collections.emptyMap(), config, () -> input.get("node.name", "node"));
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
        LogConfigurator.configure(env);

        Node node = new Node(env, PLUGINS, true) {};
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                LogManager.getLogger(SearcherNode.class).warn("closing the node failed", e);
            } finally {
                stopped.countDown();
                Configurator.shutdown(org.apache.logging.log4j.core.LoggerContext.getContext(false));
            }
        }, "searcher-node-shutdown"));
        node.start();
        LogManager.getLogger(SearcherNode.class).info("searcher node started");
        stopped.await();
    }
}
