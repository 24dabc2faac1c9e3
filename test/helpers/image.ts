import { DockerClient } from "../../src/docker/docker-client";
import { ImageBuilder } from "../../src/docker/image-builder";

/** The image the container suites run: built once per test process from this checkout (the binary included). */
export const TEST_IMAGE = process.env.CODERUNNER_TEST_IMAGE ?? "coderunner-test:ci";

let built: Promise<{ id: string; progress: string[] }> | undefined;

/**
 * Builds `TEST_IMAGE` from the embedded Dockerfile and a binary compiled from this checkout, once
 * per test process (every container suite shares it; layers are cached, so a rebuild with a new
 * binary takes seconds). Resolves with the image id and the build's progress lines.
 */
export function testImage(docker: DockerClient = new DockerClient()): Promise<{ id: string; progress: string[] }> {
  built ??= (async () => {
    const progress: string[] = [];
    const id = await new ImageBuilder({ docker, image: TEST_IMAGE }).buildImage((line) => progress.push(line));
    return { id, progress };
  })();
  return built;
}

/** Whether a Docker Engine answers; under CI its absence is an error, not a skip. */
export async function engineAnswers(docker: DockerClient = new DockerClient()): Promise<boolean> {
  const up = await docker.ping();
  if (!up && process.env.CI) throw new Error("No Docker Engine answers; under CI, .ci/deps starts one.");
  return up;
}
