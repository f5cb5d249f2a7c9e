/** Listing and inspecting containers: one list call, then at most one inspect per container. */

export interface ContainerSelection {
	names: string[];
	labels: string[];
	composeProject: string;
}
