package ai.attune.plugins.setfit;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Binding as the host does it: the defaults as a tree, the user's keys over them. */
class SetFitConfigTest {
    private final ObjectMapper json = new ObjectMapper();

    private SetFitConfig bind(String userKeys) throws Exception {
        ObjectNode merged = json.valueToTree(SetFitConfig.DEFAULTS);
        json.readTree(userKeys).fields().forEachRemaining(e -> merged.set(e.getKey(), e.getValue()));
        return json.treeToValue(merged, SetFitConfig.class);
    }

    @Test
    void defaultsAreSetfitsTrainingArguments() throws Exception {
        SetFitConfig c = bind("{}");
        assertEquals(List.of(16, 2), c.batchSize());
        assertEquals(List.of(1, 16), c.numEpochs());
        assertEquals(List.of(2e-5, 1e-5), c.bodyLearningRate());
        assertEquals(1e-2, c.headLearningRate());
        assertEquals("CosineSimilarityLoss", c.loss());
        assertEquals(0.25, c.margin());
        assertEquals(42, c.seed());
    }

    @Test
    void oneNumberSetsBothStagesAndAPairSetsEach() throws Exception {
        SetFitConfig c = bind("{\"batch_size\": 8, \"num_epochs\": [2, 5], \"body_learning_rate\": 3e-5}");
        assertEquals(List.of(8, 8), c.batchSize());
        assertEquals(List.of(2, 5), c.numEpochs());
        assertEquals(List.of(3e-5, 3e-5), c.bodyLearningRate());
    }

    @Test
    void badValuesAreNamed() {
        JsonMappingException e = assertThrows(JsonMappingException.class, () -> bind("{\"loss\": \"TripletLoss\"}"));
        assertTrue(e.getCause().getMessage().contains("unknown loss 'TripletLoss'"), e.getCause().getMessage());
        e = assertThrows(JsonMappingException.class, () -> bind("{\"num_epochs\": [1, 2, 3]}"));
        assertTrue(e.getCause().getMessage().contains("num_epochs must be a number or a pair"), e.getCause().getMessage());
        e = assertThrows(JsonMappingException.class, () -> bind("{\"sampling_strategy\": \"random\"}"));
        assertTrue(e.getCause().getMessage().contains("unknown sampling strategy 'random'"), e.getCause().getMessage());
    }
}
