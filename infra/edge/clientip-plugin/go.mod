module github.com/mlflow-kit/clientip

go 1.22
