// Entry point of `pulumi up`: stack config -> Settings -> MlflowDeployment -> stack outputs.
import { mlflowStack } from "./infra/program";
import { loadSettings } from "./infra/settings";

export = mlflowStack(loadSettings());
