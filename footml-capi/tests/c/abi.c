/* Edge cases of the C ABI: NULL pointers, invalid UTF-8, bad config, missing input,
 * result messages. Run under valgrind by tests/c_example.rs; exits non-zero on failure. */
#include <stdio.h>
#include <string.h>

#include "footml.h"
#include "check.h"


/* Calls footml_analyze_json and checks the code and that the error names `needle`. */
static void expect_error(const char *config, footml_result want, const char *needle) {
    char *report = (char *)1, *error = NULL;
    footml_result rc = footml_analyze_json(config, &report, &error);
    CHECK(rc == want);
    CHECK(report == NULL);
    CHECK(error != NULL);
    if (error && needle && !strstr(error, needle)) {
        fprintf(stderr, "error `%s` does not mention `%s`\n", error, needle);
        failures++;
    }
    if (rc != want) fprintf(stderr, "got code %u (%s), want %u\n", (unsigned)rc, error ? error : "", (unsigned)want);
    footml_string_free(error);
}

int main(void) {
    CHECK(strlen(footml_version()) > 0);
    CHECK(strcmp(footml_result_message(FOOTML_OK), "success") == 0);
    /* FOOTML_ERR_BUSY is the last code: a code added later extends this loop. */
    for (uint32_t code = 0; code <= FOOTML_ERR_BUSY; code++) CHECK(strlen(footml_result_message(code)) > 0);
    CHECK(strcmp(footml_result_message(FOOTML_ERR_BUSY + 1), "unknown footml_result code") == 0);
    CHECK(strcmp(footml_result_message(9999), "unknown footml_result code") == 0);

    char *report = NULL, *error = NULL;
    /* NULL config: an error code and a message, never a crash. */
    CHECK(footml_analyze_json(NULL, &report, &error) == FOOTML_ERR_NULL_POINTER);
    CHECK(report == NULL && error != NULL);
    footml_string_free(error);
    /* NULL report out-pointer, with and without an error out-pointer. */
    CHECK(footml_analyze_json("{}", NULL, &error) == FOOTML_ERR_NULL_POINTER);
    CHECK(error != NULL && strstr(error, "report_json_out") != NULL);
    footml_string_free(error);
    CHECK(footml_analyze_json("{}", NULL, NULL) == FOOTML_ERR_NULL_POINTER);
    /* error_out is optional. */
    CHECK(footml_analyze_json("not json", &report, NULL) == FOOTML_ERR_CONFIG);
    CHECK(report == NULL);

    expect_error("\xff\xfe{}", FOOTML_ERR_INVALID_UTF8, "UTF-8");
    expect_error("{not json", FOOTML_ERR_CONFIG, NULL);
    expect_error("{\"detections_path\": \"d.txt\", \"fps\": 25, \"frame_size\": [1920, 1080], \"bogus\": 1}",
                 FOOTML_ERR_CONFIG, "bogus");
    expect_error("{}", FOOTML_ERR_CONFIG, NULL); /* no input */
    expect_error("{\"detections_path\": \"/nonexistent/footml/det.txt\", \"fps\": 25, \"frame_size\": [1920, 1080]}",
                 FOOTML_ERR_NOT_FOUND, "/nonexistent/footml/det.txt");
    expect_error("{\"video_path\": \"/nonexistent/footml/match.mp4\"}", FOOTML_ERR_NOT_FOUND, "match.mp4");

    footml_string_free(NULL);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("abi: all checks passed\n");
    return 0;
}
